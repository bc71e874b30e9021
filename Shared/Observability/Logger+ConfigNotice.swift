import GatehouseConfig
import Logging

extension Logger {
    /// Logs what reading the configuration noticed (``ConfigDocument/notices``): deprecated keys as warnings,
    /// ignored Kubernetes service-link variables as `debug` (or `warning` when one shadowed a key), one line each.
    /// - Parameter notices: The document's notices, once logging is set up.
    public func log(configNotices notices: [ConfigNotice]) {
        for notice in notices {
            switch notice.severity {
            case .debug: self.debug("\(notice.message)")
            case .warning: self.warning("\(notice.message)")
            }
        }
    }
}
