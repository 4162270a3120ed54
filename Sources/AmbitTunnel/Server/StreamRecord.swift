import AmbitCore
import NIOCore

/// What happened on one HBONE stream, reported when it ends: the raw material of the
/// access log and the TCP metrics.
public struct StreamRecord: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// 200 was sent and the tunnel ran until both sides closed.
        case completed
        /// The tunnel ran and then failed (reset, I/O error).
        case failed(String)
        /// The CONNECT was answered with an error status.
        case refused(status: Int, reason: String)
    }

    /// The parsed request, or nil when the HEADERS could not be parsed.
    public let request: ConnectRequest?
    public let peer: SpiffeID?
    public let outcome: Outcome
    /// Bytes carried from the tunnel to the destination.
    public let bytesToDestination: Int
    /// Bytes carried from the destination back into the tunnel.
    public let bytesFromDestination: Int
    public let durationSeconds: Double
}
