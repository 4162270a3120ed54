import AmbitCore
import Foundation
import Testing

@testable import AmbitNode

/// Which pods the daemon on one node enrols, and what it changes when the snapshot moves:
/// the pure half of reconciliation.
@Suite("Enrolment plan")
struct EnrolmentPlanTests {
    static func snapshot(_ workloads: String, namespaceLabels: String = "{ambit.dev/dataplane-mode: ambient}") -> MeshSnapshot {
        let text = "kind: Namespace\nmetadata: {name: shop, labels: \(namespaceLabels)}\n" + workloads
        return try! MeshSnapshot(ResourceDecoder.decodeFile(text, file: "test"))
    }

    static func pod(
        _ name: String, node: String = "n1", ip: String = "10.0.0.1", sa: String = "default",
        netns: String? = "/var/run/netns/pod", labels: String = "{}"
    ) -> String {
        let ns = netns.map { ", netns: \($0)" } ?? ""
        return "---\nkind: Workload\nmetadata: {name: \(name), namespace: shop, labels: \(labels)}\n"
            + "spec: {serviceAccount: \(sa), node: \(node), addresses: [\(ip)]\(ns)}\n"
    }

    static func wanted(_ workloads: String, namespaceLabels: String = "{ambit.dev/dataplane-mode: ambient}") -> [String: EnrolmentPlan.Target] {
        EnrolmentPlan.wanted(in: snapshot(workloads, namespaceLabels: namespaceLabels), node: "n1")
    }

    @Test("wanted: pods on this node, opted in, with a network namespace path")
    func wanted() throws {
        let targets = Self.wanted(
            Self.pod("here", sa: "web", netns: "/proc/42/ns/net") + Self.pod("elsewhere", node: "n2", ip: "10.0.0.2")
                + Self.pod("no-netns", ip: "10.0.0.3", netns: nil)
                + Self.pod("opted-out", ip: "10.0.0.4", labels: "{ambit.dev/dataplane-mode: none}"))
        #expect(targets.keys.sorted() == ["shop/here"])
        let here = try #require(targets["shop/here"])
        #expect(here.key == "shop/here" && here.netns == "/proc/42/ns/net")
        #expect(here.identity.uri == "spiffe://cluster.local/ns/shop/sa/web")
        #expect(here.addresses == [IPAddress("10.0.0.1")!])
    }

    @Test("a pod in a namespace that is not ambient is wanted only with its own ambient label")
    func optIn() {
        let pods = Self.pod("plain") + Self.pod("opted-in", ip: "10.0.0.2", labels: "{ambit.dev/dataplane-mode: ambient}")
        #expect(Self.wanted(pods, namespaceLabels: "{}").keys.sorted() == ["shop/opted-in"])
    }

    @Test("nothing changes when what is wanted is what is enrolled")
    func steady() {
        let now = Self.wanted(Self.pod("a") + Self.pod("b", ip: "10.0.0.2"))
        #expect(EnrolmentPlan.make(wanted: now, current: now).isEmpty)
    }

    @Test("new pods are enrolled and departed pods removed, in key order")
    func addAndRemove() {
        let before = Self.wanted(Self.pod("a") + Self.pod("gone", ip: "10.0.0.2"))
        let after = Self.wanted(Self.pod("a") + Self.pod("c", ip: "10.0.0.4") + Self.pod("b", ip: "10.0.0.3"))
        let plan = EnrolmentPlan.make(wanted: after, current: before)
        #expect(plan.remove == ["shop/gone"])
        #expect(plan.enrol.map(\.key) == ["shop/b", "shop/c"])
    }

    @Test("a changed netns, identity or address re-enrols the pod: remove, then enrol", arguments: [
        pod("a", netns: "/proc/99/ns/net"), pod("a", sa: "renamed"), pod("a", ip: "10.0.0.99"),
    ])
    func reEnrol(changed: String) {
        let plan = EnrolmentPlan.make(wanted: Self.wanted(changed), current: Self.wanted(Self.pod("a")))
        #expect(plan.remove == ["shop/a"])
        #expect(plan.enrol.map(\.key) == ["shop/a"])
        #expect(plan.enrol.first == Self.wanted(changed)["shop/a"])
    }

    @Test("a pod whose label turns to `none` is removed and not enrolled")
    func labelTurnsToNone() {
        let plan = EnrolmentPlan.make(
            wanted: Self.wanted(Self.pod("a", labels: "{ambit.dev/dataplane-mode: none}")), current: Self.wanted(Self.pod("a")))
        #expect(plan == EnrolmentPlan(enrol: [], remove: ["shop/a"]))
    }

    @Test("a label change that does not touch enrolment changes nothing")
    func unrelatedLabel() {
        let plan = EnrolmentPlan.make(wanted: Self.wanted(Self.pod("a", labels: "{version: v2}")), current: Self.wanted(Self.pod("a")))
        #expect(plan.isEmpty)
    }
}

/// The list of pods the daemon put rules into, kept on disk across restarts.
@Suite("Enrolment record")
struct EnrolmentRecordTests {
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ambit-record-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("what is saved loads back the same, and the file is one line per pod")
    func roundTrip() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("enrolled").path
        let record = EnrolmentRecord(entries: [
            .init(key: "shop/web", netns: "/var/run/netns/web", inode: 4_026_532_000),
            .init(key: "shop/db", netns: "/proc/42/ns/net", inode: UInt64.max),
        ])
        try record.save(to: path)
        #expect(EnrolmentRecord.load(from: path) == record)
        #expect(try String(contentsOfFile: path, encoding: .utf8)
            == "shop/web /var/run/netns/web 4026532000\nshop/db /proc/42/ns/net 18446744073709551615\n")
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"), "the temporary file is renamed into place")
    }

    @Test("saving replaces the previous list; an empty list saves an empty file")
    func replace() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("enrolled").path
        try EnrolmentRecord(entries: [.init(key: "a/b", netns: "/x", inode: 1)]).save(to: path)
        try EnrolmentRecord().save(to: path)
        #expect(EnrolmentRecord.load(from: path) == EnrolmentRecord())
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "")
    }

    @Test("a missing file is an empty record, and malformed lines are skipped")
    func tolerantLoad() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("enrolled").path
        #expect(EnrolmentRecord.load(from: path) == EnrolmentRecord())
        try "shop/a /x 7\ngarbage\nshop/b /y notanumber\nshop/c /z 9 extra\n\nshop/d /w 8\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(EnrolmentRecord.load(from: path).entries == [.init(key: "shop/a", netns: "/x", inode: 7), .init(key: "shop/d", netns: "/w", inode: 8)])
    }

    @Test("saving into a directory that does not exist fails with the path in the message")
    func unwritable() throws {
        let path = "/nonexistent-ambit-dir/enrolled"
        #expect(throws: NodeError(.enrolment, "cannot write \(path).tmp: No such file or directory")) {
            try EnrolmentRecord().save(to: path)
        }
    }
}
