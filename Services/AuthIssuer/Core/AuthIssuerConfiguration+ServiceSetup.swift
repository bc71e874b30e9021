import GatehouseObservability

/// The auth issuer is set up from its configuration alone.
extension AuthIssuerConfiguration: ServiceSetup {}
