import AmbitCore

/// `RequestMirror`: whether this request is copied to the mirror backend. The copy is
/// fire-and-forget; its response is dropped by the proxy.
extension RequestMirror {
    /// True for `percent` % of requests, drawn from `random`.
    public func shouldMirror(random: inout some RandomNumberGenerator) -> Bool {
        if percent >= 100 { return true }
        if percent <= 0 { return false }
        return Int.random(in: 0..<100, using: &random) < percent
    }
}
