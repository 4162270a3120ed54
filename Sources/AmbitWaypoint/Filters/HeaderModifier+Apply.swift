import AmbitCore
import NIOHTTP1

/// `RequestHeaderModifier` / `ResponseHeaderModifier` on NIO's headers. Names compare
/// case-insensitively (HTTPHeaders does that); `set` replaces every value of a header,
/// `add` appends one, `remove` drops them all. Gateway API lets a name appear once per
/// modifier, so the order of the three does not change the result.
extension HeaderModifier {
    public func apply(to headers: inout HTTPHeaders) {
        for name in remove { headers.remove(name: name) }
        for header in set { headers.replaceOrAdd(name: header.name, value: header.value) }
        for header in add { headers.add(name: header.name, value: header.value) }
    }
}
