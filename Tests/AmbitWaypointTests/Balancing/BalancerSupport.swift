import AmbitCore
import AmbitWaypoint

/// Endpoints `10.1.0.1:9080`…, labelled `version: v1` unless told otherwise.
func makeEndpoints(_ count: Int, version: String = "v1", firstOctet: Int = 1) -> [Endpoint] {
    (0..<count).map { Endpoint(address: HostPort(host: "10.1.\(firstOctet).\($0 + 1)", port: 9080), labels: ["version": version]) }
}

extension EndpointBalancer {
    /// Picks `count` times, releasing each lease at once, and counts picks per address.
    mutating func distribution(_ count: Int, hash: (Int) -> UInt64? = { _ in nil }) -> [HostPort: Int] {
        var counts: [HostPort: Int] = [:]
        for i in 0..<count {
            guard let lease = pick(hash: hash(i)) else { continue }
            counts[lease.endpoint.address, default: 0] += 1
            release(lease)
        }
        return counts
    }
}

struct FakeRequest: HashableRequestView {
    var headers: [(String, String)] = []
    var sourceIP: String?
    var pathAndQuery = "/"

    func headerValues(named name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name }.map(\.1)
    }
}
