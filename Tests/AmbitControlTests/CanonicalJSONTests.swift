import AmbitControl
import AmbitCore
import Testing

@Suite struct CanonicalJSONTests {
    @Test func keysAreSortedAndSpaceIsDropped() throws {
        let value = try #require(ConfigParser.documents("b: 1\na: {d: [true, null, x], c: '2'}\n", file: "t").first)
        #expect(CanonicalJSON.encode(CanonicalJSON.canonical(value)) == #"{"a":{"c":"2","d":[true,null,"x"]},"b":1}"#)
    }

    @Test func yamlOnlyNumbersBecomeJSONNumbers() {
        let value = ConfigValue.list([.number("+80"), .number(".5"), .number("1e3"), .number("-0.25"), .number("-.inf")])
        #expect(CanonicalJSON.encode(CanonicalJSON.canonical(value)) == #"[80,0.5,1e3,-0.25,"-.inf"]"#)
    }

    @Test func escapesAreWhatJSONAndYAMLBothRead() throws {
        let text = "quote \" backslash \\ newline \n tab \t bell \u{07} del \u{7F} nel \u{85} bom \u{FEFF} é 🙂"
        let encoded = CanonicalJSON.encode(.string(text))
        #expect(encoded == #""quote \" backslash \\ newline \n tab \t bell \u0007 del \u007f nel \u0085 bom \ufeff é 🙂""#)
        #expect(try CanonicalJSON.parse(encoded) == .string(text))
        // Canonical JSON is YAML too, so the config parser reads it back unchanged.
        #expect(try ConfigParser.documents(encoded, file: "t") == [.string(text)])
    }

    @Test func storedDocumentsReadBackThroughBothParsers() throws {
        let w = workload("echo", labels: ["ambit.dev/dataplane-mode": "ambient", "app": "echo"])
        let text = w.json
        #expect(try CanonicalJSON.parse(text) == w.document)
        #expect(try ConfigParser.documents(text, file: "t") == [w.document])
        // And what the parser reads is still a valid Workload.
        _ = try ResourceDecoder.decode(CanonicalJSON.parse(text))
    }

    @Test func theParserIsStrict() throws {
        let bad: [(String, String)] = [
            (#"{"a":1,}"#, "invalid JSON at byte 7: expected a key in double quotes"),
            (#"{"a":1,"a":2}"#, "invalid JSON at byte 7: the key 'a' appears twice"),
            (#"[1 2]"#, "invalid JSON at byte 3: expected ',' or ']'"),
            (#"[01]"#, "invalid JSON at byte 1: '01' is not a JSON number"),
            (#""\ud800""#, "invalid JSON at byte 7: a high surrogate must be followed by a low one"),
            (#"{"a":1} x"#, "invalid JSON at byte 8: unexpected bytes after the value"),
            ("\"tab\there\"", "invalid JSON at byte 4: a control character inside a string must be escaped"),
            (String(repeating: "[", count: 300), "invalid JSON at byte 256: nested more than 256 levels deep"),
        ]
        for (text, message) in bad {
            do {
                _ = try CanonicalJSON.parse(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description == message, "\(text)")
            }
        }
        #expect(try CanonicalJSON.parse(#" {"a" : [ 1 , -2.5e-3 , "\u00e9\ud83d\ude42" ] } "#)
            == .map([("a", .list([.number("1"), .number("-2.5e-3"), .string("é🙂")]))]))
    }
}
