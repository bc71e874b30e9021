// integration placeholder
