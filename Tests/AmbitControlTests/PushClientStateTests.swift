import Foundation
import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitTesting
import Testing

@Suite("Push client state (data plane side)")
struct PushClientStateTests {
    typealias F = PushFixtures

    static func node(_ id: String) -> Ambit_V1_Node {
        var n = Ambit_V1_Node()
        n.id = id
        return n
    }

    static func response(_ typeURL: String, _ nonce: String, version: String = "1", _ resources: [Ambit_V1_Resource], removed: [String] = []) -> Ambit_V1_DeltaDiscoveryResponse {
        var r = Ambit_V1_DeltaDiscoveryResponse()
        r.typeURL = typeURL
        r.nonce = nonce
        r.systemVersionInfo = version
        r.resources = resources
        r.removedResources = removed
        return r
    }

    @Test func acceptedResponsesAreAppliedAndAcked() throws {
        var state = PushClientState(node: Self.node("node-1"), typeURLs: ResourceTypes.node)
        let opening = state.streamStartRequests()
        #expect(opening.map(\.typeURL) == ResourceTypes.node)
        #expect(opening.allSatisfy { $0.node.id == "node-1" && $0.initialResourceVersions.isEmpty && $0.responseNonce.isEmpty })

        let w1 = F.workload("w1", address: "10.0.0.1")
        let w2 = F.workload("w2", address: "10.0.0.2")
        let (ack, outcome) = state.handle(Self.response(F.ws, "n1", [w1, w2]), validate: F.meshValidation)
        #expect(outcome == .accepted(changed: true))
        #expect(ack.responseNonce == "n1" && ack.typeURL == F.ws && !ack.hasErrorDetail)
        #expect(state.accepted.versions(of: F.ws) == ["ns1/w1": w1.version, "ns1/w2": w2.version])
        #expect(state.accepted.systemVersions[F.ws] == "1")
        let snapshot = try state.accepted.meshSnapshot()
        #expect(snapshot.workloads.map(\.metadata.name).sorted() == ["w1", "w2"])

        let (_, removal) = state.handle(Self.response(F.ws, "n2", version: "2", [], removed: ["ns1/w1"]), validate: F.meshValidation)
        #expect(removal == .accepted(changed: true))
        #expect(Array(state.accepted.versions(of: F.ws).keys) == ["ns1/w2"])

        // What a new stream reports: the versions held.
        let resync = state.streamStartRequests().first { $0.typeURL == F.ws }
        #expect(resync?.initialResourceVersions == ["ns1/w2": w2.version])
    }

    @Test func aRejectedResponseIsNackedAndThePreviousSetStays() throws {
        var state = PushClientState(node: Self.node("node-1"), typeURLs: [F.ws, F.ns])
        let w1 = F.workload("w1", address: "10.0.0.1")
        _ = state.handle(Self.response(F.ws, "n1", [w1]), validate: F.meshValidation)
        let before = state.accepted

        // A second workload on the same address: each document is valid, the set is not.
        let clash = F.workload("w2", address: "10.0.0.1")
        let (nack, outcome) = state.handle(Self.response(F.ws, "n2", version: "2", [clash]), validate: F.meshValidation)
        guard case .rejected(let reason) = outcome else { Issue.record("expected a rejection"); return }
        #expect(reason.contains("10.0.0.1 is already the address of workload ns1/w1"))
        #expect(nack.responseNonce == "n2")
        #expect(nack.hasErrorDetail && nack.errorDetail.code == 3 && nack.errorDetail.message == reason)
        #expect(state.accepted == before)
        #expect(state.lastRejection[F.ws] == reason)

        // A document that does not validate on its own, with the field named.
        var broken = F.workload("w3", address: "10.0.0.3")
        broken.body = Array(#"{"kind":"Workload","metadata":{"name":"w3","namespace":"ns1"},"spec":{"node":"n","addresses":["300.1.1.1"]}}"#.utf8).dataValue
        let (_, second) = state.handle(Self.response(F.ws, "n3", [broken]), validate: F.meshValidation)
        guard case .rejected(let why) = second else { Issue.record("expected a rejection"); return }
        #expect(why.contains("spec.addresses[0]") && why.contains("300.1.1.1"))
        #expect(state.accepted == before)

        // A kind that does not match the type URL.
        let (_, third) = state.handle(Self.response(F.ns, "n4", [w1]), validate: F.meshValidation)
        #expect(third != .accepted(changed: true))

        // A type the client never subscribed to.
        let (_, fourth) = state.handle(Self.response(ResourceTypes.httpRoute, "n5", []), validate: F.meshValidation)
        #expect(fourth == .rejected("not subscribed to 'type.ambit.dev/HTTPRoute'"))

        // The next good response is accepted and clears the rejection.
        let (_, fifth) = state.handle(Self.response(F.ws, "n6", [F.workload("w2", address: "10.0.0.2")]), validate: F.meshValidation)
        #expect(fifth == .accepted(changed: true))
        #expect(state.lastRejection[F.ws] == nil)
    }

    /// The two state machines against each other, without a network: ACK, NACK, and a
    /// "reconnect" (a new session) that resyncs from what the client holds.
    @Test func sessionAndClientConverge() throws {
        let w1 = F.workload("w1", address: "10.0.0.1")
        let w2 = F.workload("w2", address: "10.0.0.2")
        var client = PushClientState(node: Self.node("node-1"), typeURLs: [F.ws, F.ns])
        var session = PushSession(desired: F.desired("1", [F.ws: [w1], F.ns: [F.namespace("ns1")]]))
        func exchange(_ requests: [Ambit_V1_DeltaDiscoveryRequest]) -> Int {
            var queue = requests
            var responses = 0
            while !queue.isEmpty {
                if let response = session.receive(queue.removeFirst()) {
                    responses += 1
                    queue.append(client.handle(response, validate: F.meshValidation).reply)
                }
            }
            return responses
        }
        #expect(exchange(client.streamStartRequests()) == 2)
        #expect(client.accepted.resourceCount == 2)

        // A rejected update: the client keeps w1 only; the session knows it.
        let clash = F.workload("w2", address: "10.0.0.1")
        var pending = session.update(F.desired("2", [F.ws: [w1, clash], F.ns: [F.namespace("ns1")]]))
        #expect(pending.count == 1)
        #expect(exchange([client.handle(pending.removeFirst(), validate: F.meshValidation).reply]) == 0)
        #expect(client.accepted.versions(of: F.ws) == ["ns1/w1": w1.version])
        #expect(session.status().first { $0.typeURL == F.ws }?.lastError != nil)

        // Reconnect to a control plane whose desired set meanwhile changed: only w2 travels
        // (the namespaces get an empty answer confirming what the client holds).
        session = PushSession(desired: F.desired("3", [F.ws: [w1, w2], F.ns: [F.namespace("ns1")]]))
        #expect(exchange(client.streamStartRequests()) == 2)
        #expect(session.status().map(\.resourcesSent) == [0, 1])
        #expect(client.accepted.versions(of: F.ws) == ["ns1/w1": w1.version, "ns1/w2": w2.version])
    }
}

@Suite("Push reconnect backoff")
struct PushBackoffTests {
    @Test func fullJitterScheduleWithCapAndReset() {
        var backoff = ReconnectBackoff()
        var upper: [Double] = []
        for _ in 0..<9 { upper.append(backoff.next(jitter: { $0 })) }
        #expect(upper == [0.5, 1, 2, 4, 8, 16, 30, 30, 30])
        backoff.reset()
        #expect(backoff.next(jitter: { $0 / 2 }) == 0.25)
        #expect(backoff.next(jitter: { _ in 0 }) == 0)
        #expect(backoff.next(jitter: { _ in 99 }) == 2)  // never above the ceiling
        #expect(backoff.attempts == 3)
    }

    /// The client's reconnect loop sleeps on the injected clock: against a port where
    /// nothing listens, each failed attempt waits the next delay of the schedule.
    @Test func clientReconnectsOnTheScheduleOfTheInjectedClock() async throws {
        let clock = ManualClock()
        var node = Ambit_V1_Node()
        node.id = "node-1"
        let client = ControlPlaneClient(
            configuration: .init(host: "127.0.0.1", port: 1, security: .plaintext, node: node, typeURLs: [ResourceTypes.workload], healthyAfter: 1000),
            clock: clock, jitter: { $0 }, validate: { _ in nil })
        let task = Task { await client.run() }
        defer { task.cancel() }
        for (attempt, expected) in [0.5, 1, 2, 4, 8].enumerated() {
            try await clock.waitForSleepers(1, timeoutSeconds: 20)
            let delay = try #require(clock.nextDeadline) - clock.now()
            #expect(abs(delay - expected) < 1e-9, "attempt \(attempt)")
            #expect(client.status.consecutiveFailures == attempt + 1)
            #expect(client.status.streamsStarted == attempt + 1)
            #expect(client.status.lastError != nil)
            clock.advance(by: expected)
            try await waitUntil("the next attempt starts") { client.status.streamsStarted == attempt + 2 }
        }
    }
}

extension Array where Element == UInt8 {
    var dataValue: Foundation.Data { Foundation.Data(self) }
}
