import AmbitControl
import AmbitCore
import Testing

/// The `ResourceStore` contract, run against every store.
@Suite struct StoreTests {
    @Test(arguments: StoreKind.allCases)
    func roundTrip(kind: StoreKind) throws {
        let (store, done) = try kind.make()
        defer { done() }
        let w = workload("echo", labels: ["app": "echo"])
        let commit = try store.apply([.put(w)])
        #expect(commit.revision == 1)
        let stored = try #require(store.get(w.key))
        #expect(stored.resourceVersion == 1)
        #expect(stored.labels == ["app": "echo"])
        #expect(stored.document == w.document)
        #expect(commit.changes == [.put(stored)])
        // Canonical: keys sorted at every level, numbers and strings as JSON.
        #expect(stored.json == #"{"apiVersion":"ambit.dev/v1","kind":"Workload","metadata":{"labels":{"app":"echo"},"name":"echo","namespace":"ns1"},"spec":{"addresses":["10.0.0.1"],"node":"node-1"}}"#)
    }

    @Test(arguments: StoreKind.allCases)
    func listAndGet(kind: StoreKind) throws {
        let (store, done) = try kind.make()
        defer { done() }
        try store.apply([.put(workload("b", namespace: "ns2")), .put(workload("a")), .put(workload("c")), .put(namespace("ns1"))])
        #expect(store.list(kind: "Workload").map(\.key.description) == ["Workload ns1/a", "Workload ns1/c", "Workload ns2/b"])
        #expect(store.list(kind: "Workload", namespace: "ns1").map(\.key.name) == ["a", "c"])
        #expect(store.list(kind: "Workload", namespace: "ns3").isEmpty)
        #expect(store.list(kind: "Namespace").map(\.key.description) == ["Namespace ns1"])
        #expect(store.list(kind: "Service").isEmpty)
        #expect(store.get(ResourceKey(kind: "Workload", namespace: "ns1", name: "a"))?.key.name == "a")
        #expect(store.get(ResourceKey(kind: "Workload", namespace: "ns2", name: "a")) == nil)
        #expect(store.snapshot().resources.count == 4)
    }

    @Test(arguments: StoreKind.allCases)
    func revisionGrowsByOnePerBatch(kind: StoreKind) throws {
        let (store, done) = try kind.make()
        defer { done() }
        #expect(store.revision == 0)
        try store.apply([.put(workload("a")), .put(workload("b"))])
        try store.apply([.put(workload("a", node: "node-2"))])
        #expect(store.revision == 2)
        #expect(store.get(workload("a").key)?.resourceVersion == 2)
        #expect(store.get(workload("b").key)?.resourceVersion == 1)
        // An empty batch commits nothing.
        let empty = try store.apply([])
        #expect(empty == StoreCommit(revision: 2, changes: []))
        #expect(store.revision == 2)
    }

    @Test(arguments: StoreKind.allCases)
    func delete(kind: StoreKind) throws {
        let (store, done) = try kind.make()
        defer { done() }
        try store.apply([.put(workload("a")), .put(workload("b"))])
        let before = try #require(store.get(workload("a").key))
        let commit = try store.apply([.delete(workload("a").key)])
        #expect(commit.changes == [.delete(before)])
        #expect(store.get(workload("a").key) == nil)
        #expect(store.list(kind: "Workload").map(\.key.name) == ["b"])
        // Deleting what is not there still commits (a revision), but changes nothing.
        let again = try store.apply([.delete(workload("a").key)])
        #expect(again == StoreCommit(revision: 3, changes: []))
    }

    @Test(arguments: StoreKind.allCases)
    func watchDeliversEveryLaterCommitInOrder(kind: StoreKind) async throws {
        let (store, done) = try kind.make()
        defer { done() }
        try store.apply([.put(workload("a"))])
        let watch = store.watch()
        #expect(watch.snapshot.revision == 1)
        #expect(watch.snapshot.resources.map(\.key.name) == ["a"])
        var applied: [StoreCommit] = []
        applied.append(try store.apply([.put(workload("b"))]))
        applied.append(try store.apply([.delete(workload("a").key), .put(namespace("ns1"))]))
        applied.append(try store.apply([.put(workload("b", node: "node-9"))]))

        var received: [StoreCommit] = []
        var iterator = watch.commits.makeAsyncIterator()
        for _ in 0..<3 {
            let next = await iterator.next()
            received.append(try #require(next))
        }
        #expect(received == applied)
        #expect(received.map(\.revision) == [2, 3, 4])

        // The snapshot plus the commits, in order, is the store.
        var state: [ResourceKey: StoredResource] = Dictionary(uniqueKeysWithValues: watch.snapshot.resources.map { ($0.key, $0) })
        for commit in received {
            for change in commit.changes {
                switch change {
                case .put(let r): state[r.key] = r
                case .delete(let r): state[r.key] = nil
                }
            }
        }
        #expect(state.values.sorted { $0.key < $1.key } == store.snapshot().resources)

        done()  // closing the store ends the stream
        let end = await iterator.next()
        #expect(end == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func aSlowWatcherGetsAGaplessPrefixThenTheEnd(kind: StoreKind) async throws {
        let (store, done) = try kind.make(watchBufferLimit: 2)
        defer { done() }
        let watch = store.watch()
        for name in ["a", "b", "c", "d", "e"] { try store.apply([.put(workload(name))]) }
        var revisions: [UInt64] = []
        for await commit in watch.commits { revisions.append(commit.revision) }
        #expect(revisions == [1, 2])
        // Watching again starts from the current state.
        #expect(store.watch().snapshot.revision == 5)
    }

    @Test(arguments: StoreKind.allCases)
    func aBatchWithOneStaleVersionChangesNothing(kind: StoreKind) throws {
        let (store, done) = try kind.make()
        defer { done() }
        try store.apply([.put(workload("a")), .put(workload("b"))])  // revision 1
        try store.apply([.put(workload("b", node: "node-2"))])  // b at 2
        let watch = store.watch()
        let before = store.snapshot()
        let error = storeError {
            try store.apply([
                .put(workload("new")),
                .delete(workload("a").key),
                .put(workload("b", node: "node-3"), expectedVersion: 1),
            ])
        }
        #expect(error?.code == .conflict)
        #expect(error?.resource == workload("b").key)
        #expect(store.snapshot() == before)
        #expect(store.revision == 2)
        #expect(store.get(workload("new").key) == nil)
        // And the next batch gets the next revision: nothing was used up.
        #expect(try store.apply([.put(workload("b", node: "node-3"), expectedVersion: 2)]).revision == 3)
        _ = watch
    }

    @Test(arguments: StoreKind.allCases)
    func conflictMessages(kind: StoreKind) throws {
        let (store, done) = try kind.make()
        defer { done() }
        try store.apply([.put(workload("a"))])
        try store.apply([.put(workload("a", node: "node-2"))])

        #expect(storeError { try store.apply([.put(workload("a"), expectedVersion: 1)]) }?.message
            == "Workload ns1/a: expected resourceVersion 1, but the stored resourceVersion is 2; re-read the resource and retry. Nothing in the batch was applied.")
        #expect(storeError { try store.apply([.put(workload("gone"), expectedVersion: 1)]) }?.message
            == "Workload ns1/gone: expected resourceVersion 1, but it does not exist; re-read the resource and retry. Nothing in the batch was applied.")
        #expect(storeError { try store.apply([.put(workload("a"), expectedVersion: 0)]) }?.message
            == "Workload ns1/a: expected it not to exist (resourceVersion 0), but the stored resourceVersion is 2; re-read the resource and retry. Nothing in the batch was applied.")
        #expect(storeError { try store.apply([.delete(namespace("ns1").key, expectedVersion: 4)]) }?.message
            == "Namespace ns1: expected resourceVersion 4, but it does not exist; re-read the resource and retry. Nothing in the batch was applied.")
        #expect(storeError { try store.apply([.put(workload("a")), .delete(workload("a").key)]) }?.message
            == "Workload ns1/a: the batch writes this resource more than once. Nothing in the batch was applied.")

        // The matching versions go through: create-only, then compare-and-set, then delete.
        try store.apply([.put(workload("fresh"), expectedVersion: 0)])
        try store.apply([.put(workload("a", node: "node-3"), expectedVersion: 2)])
        try store.apply([.delete(workload("a").key, expectedVersion: 4)])
        #expect(store.get(workload("a").key) == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func theDocumentsOwnResourceVersionIsTheExpectedOne(kind: StoreKind) throws {
        let (store, done) = try kind.make()
        defer { done() }
        try store.apply([.put(workload("a"))])
        // What `ambit get` would print, edited and applied back.
        let shown = try #require(store.get(workload("a").key)).documentWithResourceVersion
        #expect(CanonicalJSON.encode(shown).contains(#""resourceVersion":"1""#))
        let write = try StoreWrite.put(document: shown, key: workload("a").key, labels: [:])
        #expect(write.expectedVersion == 1)
        guard case .put(let resource, _) = write else { Issue.record("not a put"); return }
        #expect(resource.document == workload("a").document)  // the version is not stored in the document
        try store.apply([write])
        // The same edit again is now stale.
        #expect(storeError { try store.apply([write]) }?.code == .conflict)
        let bad = ConfigValue.map([("metadata", .map([("name", .string("x")), ("resourceVersion", .string("v7"))]))])
        #expect(storeError { _ = try StoreWrite.put(document: bad, key: workload("x").key, labels: [:]) }?.message
            == "metadata.resourceVersion must be a whole number (the version `ambit get` printed), got 'v7'. Nothing in the batch was applied.")
    }

    @Test func aClosedStoreRefusesWrites() throws {
        let store = MemoryStore()
        try store.apply([.put(workload("a"))])
        store.close()
        #expect(storeError { try store.apply([.put(workload("b"))]) }?.message == "the store is closed")
        #expect(store.get(workload("a").key) != nil)
    }
}
