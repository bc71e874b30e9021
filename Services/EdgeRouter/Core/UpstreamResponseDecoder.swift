import NIOCore
import NIOHTTP1

/// SwiftNIO's strict HTTP/1.1 response decoder for an upstream connection, told of each request head by
/// ``UpstreamResponseHandler`` directly (``requestSent(_:)``) instead of watching request parts go out
/// through the pipeline: the handler writes its requests as bytes (``HTTPWireFormat``), and the decoder
/// still knows which answers belong to a `HEAD` and carry no body.
struct UpstreamResponseDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart

    private let decoder: HTTPResponseDecoder

    /// Decodes answers up to `limits` (SwiftNIO's defaults unless given).
    init(limits: NIOHTTPDecoderLimitConfiguration = .init()) {
        self.decoder = HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)
    }

    /// Records a request head written on the connection, so that its answer is read as the method says.
    func requestSent(_ head: HTTPRequestHead) {
        self.decoder.write(data: .head(head))
    }

    func decoderAdded(context: ChannelHandlerContext) {
        self.decoder.decoderAdded(context: context)
    }

    func decoderRemoved(context: ChannelHandlerContext) {
        self.decoder.decoderRemoved(context: context)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try self.decoder.decode(context: context, buffer: &buffer)
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try self.decoder.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }
}
