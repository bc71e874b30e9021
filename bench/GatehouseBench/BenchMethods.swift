import GatehouseRPC
import SwiftProtobuf

/// The methods served by `gatehouse-bench rpc-server`.
enum BenchMethods {
    /// Answers with the request's bytes.
    static let echo = RPCMethod<Google_Protobuf_BytesValue, Google_Protobuf_BytesValue>("bench.Echo")
    /// Waits the requested milliseconds, then answers with the same number: a slow handler for tests.
    static let sleep = RPCMethod<Google_Protobuf_UInt32Value, Google_Protobuf_UInt32Value>("bench.Sleep")
}
