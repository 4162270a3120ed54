/// Decoding and validation of `HTTPFault`, with the limits Istio's validation applies to
/// `HTTPFaultInjection`: percentages 0–100, an HTTP abort status 200–599, a delay that is
/// not negative, and at least one of delay and abort.
enum HTTPFaultDecoder {
    static func decode(_ top: inout FieldReader, _ metadata: ObjectMeta) throws(ResourceError) -> HTTPFault {
        guard var spec = try top.map("spec") else { throw ResourceError(path: "spec", reason: "is required") }
        var fault = HTTPFault(metadata: metadata)
        if var d = try spec.map("delay") {
            let percentage = try self.percentage(&d)
            // Named here rather than left to the duration parser's general words: a
            // negative delay is a sign error, not a spelling one.
            if case .string(let text)? = d.value("fixedDelay"), text.hasPrefix("-") {
                throw ResourceError(path: d.at("fixedDelay"), reason: "'\(text)' is negative: a delay holds requests back, so write 0s or more")
            }
            guard let delay = try d.duration("fixedDelay") else {
                throw ResourceError(path: d.at("fixedDelay"), reason: "is required: how long to hold each delayed request, such as 2s")
            }
            try d.finish()
            fault.delay = HTTPFault.Delay(percentage: percentage, fixedDelay: delay)
        }
        if var a = try spec.map("abort") {
            let percentage = try self.percentage(&a)
            let http = try a.int("httpStatus", range: 200...599)
            let grpcName = try a.string("grpcStatus")
            try a.finish()
            let status: HTTPFault.Abort.Status
            switch (http, grpcName) {
            case (let code?, nil): status = .http(code)
            case (nil, let name?):
                guard let code = GRPCStatusCode(name: name) else {
                    throw ResourceError(
                        path: a.at("grpcStatus"),
                        reason: "'\(name)' is not a gRPC status; write one of \(GRPCStatusCode.allCases.map(\.name).joined(separator: ", "))")
                }
                status = .grpc(code)
            case (.some, .some):
                throw ResourceError(path: a.path, reason: "set httpStatus or grpcStatus, not both: one abort answers with one status")
            case (nil, nil):
                throw ResourceError(path: a.path, reason: "needs httpStatus (such as 503) or grpcStatus (such as UNAVAILABLE)")
            }
            fault.abort = HTTPFault.Abort(percentage: percentage, status: status)
        }
        try spec.finish()
        if fault.delay == nil && fault.abort == nil {
            throw ResourceError(path: "spec", reason: "a fault needs a delay, an abort or both")
        }
        return fault
    }

    /// `percentage: {value: N}`. Required: Istio injects nothing when it is left out, which
    /// looks like a fault that does not work; asking for it says what to write instead.
    static func percentage(_ r: inout FieldReader) throws(ResourceError) -> Double {
        guard var p = try r.map("percentage") else {
            throw ResourceError(path: r.at("percentage"), reason: "is required: the share of requests affected, such as {value: 10}")
        }
        guard let v = p.value("value") else { throw ResourceError(path: p.at("value"), reason: "is required") }
        try p.finish()
        guard case .number(let text) = v, let value = Double(text) else {
            throw ResourceError(path: p.at("value"), reason: "must be a number from 0 to 100, got \(v.typeName)")
        }
        guard (0...100).contains(value) else {
            throw ResourceError(path: p.at("value"), reason: "must be from 0 to 100, got \(text)")
        }
        return value
    }
}
