import AmbitCore
/// How an `AccessLogRecord` becomes one line of text (without the trailing newline).
public enum AccessLogFormat: String, Sendable, CaseIterable {
    /// logfmt: `key=value key="value with spaces"`. Missing values are `-`, like Istio's
    /// text access log; a string that is literally `-` is quoted so the two stay apart.
    case text
    /// One JSON object per line, keys in record order. Missing values and non-finite
    /// numbers (which JSON cannot express) are `null`.
    case json

    /// The line for `record`, without a newline. Never contains a raw line feed, so one
    /// record is always one line.
    public func render(_ record: AccessLogRecord) -> String {
        switch self {
        case .text: Self.renderText(record)
        case .json: Self.renderJSON(record)
        }
    }

    // MARK: - logfmt

    private static func renderText(_ record: AccessLogRecord) -> String {
        var line = ""
        for (index, field) in record.fields.enumerated() {
            if index > 0 { line += " " }
            appendTextKey(field.key, to: &line)
            line += "="
            switch field.value {
            case .string(let text): appendTextValue(text, to: &line)
            case .integer(let number): line += String(number)
            case .double(let number): line += formatDouble(number) ?? (number.isNaN ? "NaN" : number > 0 ? "+Inf" : "-Inf")
            case .missing: line += "-"
            }
        }
        return line
    }

    /// Keys are not quoted in logfmt, so characters that would break the `key=value`
    /// structure become `_` instead.
    private static func appendTextKey(_ key: String, to line: inout String) {
        guard !key.isEmpty else {
            line += "_"
            return
        }
        for scalar in key.unicodeScalars {
            if scalar.value <= 0x20 || scalar == "=" || scalar == "\"" || scalar.value == 0x7F {
                line += "_"
            } else {
                line.unicodeScalars.append(scalar)
            }
        }
    }

    private static func appendTextValue(_ text: String, to line: inout String) {
        let needsQuotes =
            text.isEmpty || text == "-"
            || text.unicodeScalars.contains { $0.value <= 0x20 || $0 == "=" || $0 == "\"" || $0 == "\\" || $0.value == 0x7F }
        guard needsQuotes else {
            line += text
            return
        }
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    appendUnicodeEscape(scalar.value, to: &line)
                } else {
                    line.unicodeScalars.append(scalar)
                }
            }
        }
        line += "\""
    }

    // MARK: - JSON

    private static func renderJSON(_ record: AccessLogRecord) -> String {
        var line = "{"
        for (index, field) in record.fields.enumerated() {
            if index > 0 { line += "," }
            JSON.quote(field.key, into: &line)
            line += ":"
            switch field.value {
            case .string(let text): JSON.quote(text, into: &line)
            case .integer(let number): line += String(number)
            case .double(let number): line += formatDouble(number) ?? "null"
            case .missing: line += "null"
            }
        }
        line += "}"
        return line
    }


    // MARK: - Shared

    /// `\u00XX` for a control character.
    private static func appendUnicodeEscape(_ value: UInt32, to line: inout String) {
        let hex = String(value, radix: 16, uppercase: false)
        line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }

    /// A finite double in a form both JSON and logfmt readers parse (`1.5`, `2`, `1e-07`);
    /// nil for NaN and infinities, which each format handles its own way.
    private static func formatDouble(_ number: Double) -> String? {
        guard number.isFinite else { return nil }
        if number == number.rounded(.towardZero), abs(number) < 9_007_199_254_740_992 {
            return String(Int64(number))
        }
        return number.description
    }
}
