import NIOCore
import NIOHTTP2

/// The HTTP/2 settings both ends of an HBONE connection use.
///
/// The windows are large because a tunnel carries bulk TCP: with the default 64 KiB a
/// single stream could move at most 64 KiB per round trip. The stream window (4 MiB) is
/// also the most a stalled reader can make the other side buffer for one stream; the
/// connection window (16 MiB) caps all streams of a connection together. Frames are
/// allowed up to 256 KiB so a bulk transfer is not chopped into 16 KiB pieces.
public struct HBONESettings: Sendable, Hashable {
    public var streamWindow: Int = 4 * 1024 * 1024
    public var connectionWindow: Int = 16 * 1024 * 1024
    public var maxFrameSize: Int = 64 * 1024
    public var maxConcurrentStreams: Int = 100
    public var maxHeaderListSize: Int = 16 * 1024
    /// Bytes the stream channel may hold before it reports not writable, which is what
    /// stops the glue from reading its TCP side.
    public var streamOutboundHighWatermark: Int = 256 * 1024
    public var streamOutboundLowWatermark: Int = 128 * 1024

    public init() {}

    var initialSettings: HTTP2Settings {
        [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: streamWindow),
            HTTP2Setting(parameter: .maxFrameSize, value: maxFrameSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: maxHeaderListSize),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
    }

    var connectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration {
        var c = NIOHTTP2Handler.ConnectionConfiguration()
        c.initialSettings = initialSettings
        c.targetWindowSize = connectionWindow
        return c
    }

    var streamConfiguration: NIOHTTP2Handler.StreamConfiguration {
        var s = NIOHTTP2Handler.StreamConfiguration()
        s.targetWindowSize = streamWindow
        s.outboundBufferSizeHighWatermark = streamOutboundHighWatermark
        s.outboundBufferSizeLowWatermark = streamOutboundLowWatermark
        return s
    }
}
