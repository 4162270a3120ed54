import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitTesting
import Testing

@Suite("Push session (control plane side)")
struct PushSessionTests {
    typealias F = PushFixtures

    let w1 = F.workload("w1", address: "10.0.0.1")
    let w2 = F.workload("w2", address: "10.0.0.2")
    let w3 = F.workload("w3", address: "10.0.0.3")

    @Test func initialSyncThenOnlyDifferences() throws {
        var session = PushSession(desired: F.desired("1", [F.ws: [w1, w2]]))
        let first = try session.respond(F.request(F.ws, node: "node-1"))
        #expect(first.typeURL == F.ws)
        #expect(first.systemVersionInfo == "1")
        #expect(first.resources.map(\.name) == ["ns1/w1", "ns1/w2"])
        #expect(first.removedResources.isEmpty)
        #expect(session.receive(F.request(F.ws, nonce: first.nonce)) == nil)  // ACK, nothing else to send
        #expect(session.status()[0].ackedVersion == "1")
        #expect(session.held(F.ws) == ["ns1/w1": w1.version, "ns1/w2": w2.version])

        // w1 changes, w2 goes, w3 comes: only those travel.
        let w1b = F.workload("w1", address: "10.0.0.1", version: "v2")
        let out = session.update(F.desired("2", [F.ws: [w1b, w3]]))
        #expect(out.count == 1)
        #expect(out[0].resources.map(\.name) == ["ns1/w1", "ns1/w3"])
        #expect(out[0].resources[0].version == w1b.version)
        #expect(out[0].removedResources == ["ns1/w2"])
        #expect(out[0].nonce != first.nonce)
        _ = session.receive(F.request(F.ws, nonce: out[0].nonce))
        #expect(session.held(F.ws) == ["ns1/w1": w1b.version, "ns1/w3": w3.version])

        // The same set again, under a new system version: no difference, no response.
        #expect(session.update(F.desired("3", [F.ws: [w1b, w3]])).isEmpty)
        #expect(session.status()[0].responsesSent == 2)
    }

    @Test func aNodeThatHoldsNothingIsAnsweredEvenWhenThereIsNothing() {
        var session = PushSession()
        let response = session.receive(F.request(F.ns, node: "n"))
        #expect(response != nil)
        #expect(response?.resources.isEmpty == true)
    }

    @Test func typesAreIndependentAndUnsubscribedTypesAreNotSent() throws {
        var session = PushSession(desired: F.desired("1", [F.ws: [w1], F.ns: [F.namespace("ns1")]]))
        let r = try session.respond(F.request(F.ws, node: "n"))
        #expect(r.typeURL == F.ws)
        #expect(session.subscribedTypes == [F.ws])
        // A change of namespaces only: the node did not subscribe to them.
        #expect(session.update(F.desired("2", [F.ws: [w1], F.ns: [F.namespace("ns2")]])).isEmpty)
    }

    @Test func staleNoncesAreIgnored() throws {
        var session = PushSession(desired: F.desired("1", [F.ws: [w1]]))
        let first = try session.respond(F.request(F.ws, node: "n"))
        // An answer to a nonce that is not pending changes nothing.
        #expect(session.receive(F.request(F.ws, nonce: "no-such-nonce")) == nil)
        #expect(session.receive(F.request(F.ws, nonce: "no-such-nonce", error: "bad")) == nil)
        #expect(session.status()[0].pendingNonce == first.nonce)
        #expect(session.status()[0].acks == 0 && session.status()[0].nacks == 0)
        #expect(session.status()[0].lastError == nil)
        #expect(session.held(F.ws).isEmpty)
        _ = session.receive(F.request(F.ws, nonce: first.nonce))
        #expect(session.status()[0].acks == 1)
        // The old nonce once more (a duplicate ACK): ignored.
        #expect(session.receive(F.request(F.ws, nonce: first.nonce, error: "late")) == nil)
        #expect(session.status()[0].nacks == 0)
        #expect(session.held(F.ws) == ["ns1/w1": w1.version])
    }

    @Test func oneResponseInFlightPerType() throws {
        var session = PushSession(desired: F.desired("1", [F.ws: [w1]]))
        let first = try session.respond(F.request(F.ws, node: "n"))
        // Changes while the first is unanswered wait for the answer…
        #expect(session.update(F.desired("2", [F.ws: [w1, w2]])).isEmpty)
        #expect(session.update(F.desired("3", [F.ws: [w1, w2, w3]])).isEmpty)
        // …and then go out as one response against what the node holds.
        let next = try session.respond(F.request(F.ws, nonce: first.nonce))
        #expect(next.systemVersionInfo == "3")
        #expect(next.resources.map(\.name) == ["ns1/w2", "ns1/w3"])
    }

    @Test func nackKeepsWhatTheNodeHeldAndIsNotResentUntilTheSetChanges() throws {
        var session = PushSession(desired: F.desired("1", [F.ws: [w1]]))
        let first = try session.respond(F.request(F.ws, node: "n"))
        _ = session.receive(F.request(F.ws, nonce: first.nonce))

        let bad = F.workload("w2", address: "10.0.0.1")  // the node will refuse this one
        let offer = try session.respondToUpdate(F.desired("2", [F.ws: [w1, bad]]))
        #expect(offer.resources.map(\.name) == ["ns1/w2"])
        #expect(session.receive(F.request(F.ws, nonce: offer.nonce, error: "10.0.0.1 is already the address of workload ns1/w1")) == nil)
        let status = session.status()[0]
        #expect(status.nacks == 1)
        #expect(status.lastError?.contains("already the address") == true)
        #expect(status.ackedVersion == "1")
        #expect(status.pendingNonce == nil)
        #expect(session.held(F.ws) == ["ns1/w1": w1.version])

        // The same desired set (even under a new system version) is not offered again.
        #expect(session.update(F.desired("2b", [F.ws: [w1, bad]])).isEmpty)
        #expect(session.receive(F.request(F.ws)) == nil)

        // A change is: computed against what the node still holds.
        let fixed = F.workload("w2", address: "10.0.0.2")
        let retry = try session.respondToUpdate(F.desired("3", [F.ws: [w1, fixed]]))
        #expect(retry.resources.map(\.version) == [fixed.version])
        _ = session.receive(F.request(F.ws, nonce: retry.nonce))
        #expect(session.status()[0].lastError == nil)
        #expect(session.status()[0].ackedVersion == "3")
    }

    @Test func resyncSendsOnlyWhatDiffers() throws {
        let w1old = F.workload("w1", address: "10.0.0.1", version: "v0")
        var session = PushSession(desired: F.desired("9", [F.ws: [w1, w2, w3]]))
        // After a reconnect the node reports what it holds: w1 at an old version, w2 current,
        // and w9 that no longer exists.
        let initial = ["ns1/w1": w1old.version, "ns1/w2": w2.version, "ns1/w9": "x"]
        let response = try session.respond(F.request(F.ws, initial: initial, node: "n"))
        #expect(response.resources.map(\.name) == ["ns1/w1", "ns1/w3"])
        #expect(response.removedResources == ["ns1/w9"])

        // A node that already holds exactly the desired set gets an empty answer carrying
        // the current version: its confirmation that it is in sync.
        var again = PushSession(desired: F.desired("9", [F.ws: [w1, w2]]))
        let confirmation = try again.respond(F.request(F.ws, initial: ["ns1/w1": w1.version, "ns1/w2": w2.version], node: "n"))
        #expect(confirmation.resources.isEmpty && confirmation.removedResources.isEmpty)
        #expect(confirmation.systemVersionInfo == "9")
        #expect(again.held(F.ws).count == 2)
    }

    @Test func namedSubscriptions() throws {
        var session = PushSession(desired: F.desired("1", [F.ws: [w1, w2, w3]]))
        var request = F.request(F.ws, node: "n")
        request.resourceNamesSubscribe = ["ns1/w2"]
        let first = try session.respond(request)
        #expect(first.resources.map(\.name) == ["ns1/w2"])
        var more = F.request(F.ws, nonce: first.nonce)
        more.resourceNamesSubscribe = ["ns1/w3"]
        more.resourceNamesUnsubscribe = ["ns1/w2"]
        let second = try session.respond(more)
        #expect(second.resources.map(\.name) == ["ns1/w3"])
        #expect(second.removedResources.isEmpty)  // the node dropped w2 itself
    }
}

extension PushSession {
    /// `receive`, which must answer.
    mutating func respond(_ request: Ambit_V1_DeltaDiscoveryRequest) throws -> Ambit_V1_DeltaDiscoveryResponse {
        guard let response = receive(request) else { throw TestFailure("expected a response to \(request.typeURL) nonce '\(request.responseNonce)'") }
        return response
    }

    /// `update`, which must answer with exactly one response.
    mutating func respondToUpdate(_ desired: DesiredConfig) throws -> Ambit_V1_DeltaDiscoveryResponse {
        let out = update(desired)
        guard out.count == 1 else { throw TestFailure("expected one response, got \(out.count)") }
        return out[0]
    }
}
