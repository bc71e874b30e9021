import GatehouseRPC

/// The auth issuer's RPC methods; the issuer serves them, edge routers call them.
public enum AuthMethods {
    /// Every revocation still in force and the newest revocation version, for an edge that missed events.
    public static let revocationState = RPCMethod<Gatehouse_Auth_RevocationStateRequest, Gatehouse_Auth_RevocationStateResponse>(
        "auth.RevocationState"
    )
}
