import AmbitCore
import Foundation
import Testing

/// The YAML users copy from the docs must apply as it is. Every ```yaml block of the pages
/// below is decoded with the same decoder `ambit apply -f` uses; the examples of
/// docs/traffic-management.md are also put together with its base setup into one
/// snapshot, whose status conditions must all be True: no route, rule or label of an
/// example may point at something the page never defines.
@Suite("YAML examples in docs/")
struct DocExamplesTests {
    /// A fenced block and where it starts, for messages a reader can act on.
    struct Block: CustomStringConvertible {
        var page: String
        var line: Int
        var text: String
        var firstLine: String { text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? "" }
        var description: String { "\(page):\(line) (\(firstLine))" }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The ```yaml blocks of a page, in order.
    static func yamlBlocks(_ page: String) throws -> [Block] {
        let text = try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8)
        var blocks: [Block] = []
        var current: (line: Int, lines: [String])?
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let open = current {
                if line.hasPrefix("```") {
                    blocks.append(Block(page: page, line: open.line, text: open.lines.joined(separator: "\n")))
                    current = nil
                } else {
                    current?.lines.append(String(line))
                }
            } else if line.trimmingCharacters(in: .whitespaces) == "```yaml" {
                current = (index + 2, [])  // 1-based, first line inside the fence
            }
        }
        #expect(current == nil, "\(page): a ```yaml block is never closed")
        return blocks
    }

    static func decode(_ block: Block) throws -> [Resource] {
        do {
            return try ResourceDecoder.decodeFile(block.text, file: block.description)
        } catch {
            throw DocExampleFailure("\(block) does not decode: \(error)")
        }
    }

    static let pages = ["docs/traffic-management.md", "docs/waypoint.md", "docs/config-reference.md"]

    @Test("every ```yaml block decodes", arguments: DocExamplesTests.pages)
    func blocksDecode(page: String) throws {
        for block in try Self.yamlBlocks(page) {
            #expect(throws: Never.self, "\(block)") { _ = try Self.decode(block) }
        }
    }

    @Test("traffic-management.md: each example, with the base setup, resolves every reference")
    func trafficExamplesAreComplete() throws {
        let blocks = try Self.yamlBlocks("docs/traffic-management.md")
        let base = try #require(blocks.first { $0.firstLine == "# base.yaml" }, "the page's base setup block (first line `# base.yaml`) is missing")
        let examples = blocks.filter { $0.firstLine != "# base.yaml" }
        // Canary, A/B, retries, timeouts, circuit breaker, outlier detection, four
        // balancers, fault injection, mirroring, authorization.
        #expect(examples.count >= 13, "examples went missing: \(examples.map(\.firstLine))")
        let baseResources = try Self.decode(base)
        for example in examples {
            #expect(example.firstLine.hasPrefix("# ") && example.firstLine.hasSuffix(".yaml"), "\(example): name the file the reader saves it as")
            let resources = try Self.decode(example)
            let snapshot: MeshSnapshot
            do {
                snapshot = try MeshSnapshot(baseResources + resources)
            } catch {
                Issue.record("\(example) does not combine with the base setup: \(error)")
                continue
            }
            for resource in baseResources + resources {
                for condition in ResourceStatus.conditions(for: resource, in: snapshot) where condition.status == .false {
                    Issue.record("\(example): \(condition)")
                }
            }
        }
    }

    @Test("the base setup sends web's traffic through the waypoint")
    func baseUsesTheWaypoint() throws {
        let blocks = try Self.yamlBlocks("docs/traffic-management.md")
        let base = try #require(blocks.first { $0.firstLine == "# base.yaml" })
        let snapshot = try MeshSnapshot(try Self.decode(base))
        let web = try #require(snapshot.services.first { $0.metadata.name == "web" })
        #expect(snapshot.endpoints(of: web).map(\.metadata.name).sorted() == ["web-v1", "web-v2", "web-v3"])
        let namespaceLabels = snapshot.namespaces["shop"]?.metadata.labels ?? [:]
        #expect(namespaceLabels[MeshLabels.useWaypoint] == "waypoint")
        #expect(snapshot.gateways.contains { $0.metadata.name == "waypoint" && $0.metadata.namespace == "shop" })
    }
}

struct DocExampleFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
