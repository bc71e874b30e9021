import GatehouseObservability

/// The data service is set up from its configuration alone.
extension DataServiceConfiguration: ServiceSetup {}
