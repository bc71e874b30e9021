import GatehouseRPC

/// The data service's RPC methods (docs/protocol.md, "Data service").
public enum DataMethods {
    /// One document by collection and id.
    public static let get = RPCMethod<Gatehouse_Data_GetRequest, Gatehouse_Data_GetResponse>("data.Get")
    /// One page of a collection, optionally filtered by full-text query or owner.
    public static let list = RPCMethod<Gatehouse_Data_ListRequest, Gatehouse_Data_ListResponse>("data.List")
    /// Creates or replaces a document.
    public static let put = RPCMethod<Gatehouse_Data_PutRequest, Gatehouse_Data_WriteResponse>("data.Put")
    /// Creates a document with a server-chosen id.
    public static let create = RPCMethod<Gatehouse_Data_CreateRequest, Gatehouse_Data_WriteResponse>("data.Create")
    /// Deletes a document.
    public static let delete = RPCMethod<Gatehouse_Data_DeleteRequest, Gatehouse_Data_WriteResponse>("data.Delete")
}
