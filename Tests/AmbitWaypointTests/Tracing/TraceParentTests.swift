@testable import AmbitWaypoint
import Foundation
import Testing

@Suite("W3C traceparent")
struct TraceParentTests {
    @Test func parsesTheSpecExample() throws {
        let parent = try #require(TraceParent(parsing: "00-\(clientTrace)-\(clientSpan)-01"))
        #expect(parent.traceID.hex == clientTrace)
        #expect(parent.parentID.hex == clientSpan)
        #expect(parent.sampled)
        #expect(parent.headerValue == "00-\(clientTrace)-\(clientSpan)-01")
    }

    @Test func flagZeroMeansNotSampled() throws {
        let parent = try #require(TraceParent(parsing: "00-\(clientTrace)-\(clientSpan)-00"))
        #expect(!parent.sampled)
        // Unknown flag bits are kept apart from the sampled bit.
        #expect(try #require(TraceParent(parsing: "00-\(clientTrace)-\(clientSpan)-02")).sampled == false)
        #expect(try #require(TraceParent(parsing: "00-\(clientTrace)-\(clientSpan)-03")).sampled)
    }

    @Test func surroundingWhitespaceIsNotPartOfTheValue() {
        #expect(TraceParent(parsing: "  00-\(clientTrace)-\(clientSpan)-01\t") != nil)
    }

    @Test(arguments: [
        "",
        "00-\(clientTrace)-\(clientSpan)",  // no flags
        "00-\(clientTrace)-\(clientSpan)-1",  // flags one digit
        "00-\(clientTrace)-\(clientSpan)-01-",  // version 00 cannot have more
        "00-\(clientTrace)-\(clientSpan)-01x",
        "00-\(clientTrace.uppercased())-\(clientSpan)-01",  // upper case
        "00-\(clientTrace)-00F067AA0BA902B7-01",
        "0A-\(clientTrace)-\(clientSpan)-01",
        "00-\(clientTrace)-\(clientSpan)-0G",
        "ff-\(clientTrace)-\(clientSpan)-01",  // version ff is forbidden
        "00-00000000000000000000000000000000-\(clientSpan)-01",  // all-zero trace id
        "00-\(clientTrace)-0000000000000000-01",  // all-zero parent id
        "00-\(clientTrace.dropLast())-\(clientSpan)0-01",  // field widths shifted
        "00_\(clientTrace)-\(clientSpan)-01",
        "00-\(clientTrace)_\(clientSpan)-01",
        "00-\(clientTrace)-\(clientSpan)_01",
        "00-\(clientTrace)-\(clientSpan)-01".replacingOccurrences(of: "a", with: "é"),
        "01-\(clientTrace)-\(clientSpan)-01x",  // a future version's extra fields need a dash
    ])
    func rejectsMalformedValues(_ value: String) {
        #expect(TraceParent(parsing: value) == nil, "accepted \(value)")
    }

    @Test func readsAFutureVersionByItsFirstFourFieldsAndAnswersInVersion00() throws {
        let parent = try #require(TraceParent(parsing: "cc-\(clientTrace)-\(clientSpan)-01-what-the-future-holds"))
        #expect(parent.headerValue == "00-\(clientTrace)-\(clientSpan)-01")
        #expect(TraceParent(parsing: "01-\(clientTrace)-\(clientSpan)-01") != nil)
    }

    @Test func idsRoundTripThroughHex() throws {
        let trace = TraceID(high: 0x0102_0304_0506_0708, low: 0x0a0b_0c0d_0e0f_1011)
        #expect(trace.hex == "01020304050607080a0b0c0d0e0f1011")
        #expect(TraceID(hex: trace.hex) == trace)
        #expect(SpanID(1).hex == "0000000000000001")
        #expect(SpanID(hex: "0000000000000000") == nil)
        #expect(SpanID(hex: "000000000000001") == nil)
    }
}
