import AmbitWaypoint
import Testing

@Suite struct HashAndRandomTests {
    /// Reference values from the xxHash project's own implementation.
    @Test func xxHash64MatchesTheReference() {
        #expect(XXHash64.hash("") == 0xEF46_DB37_51D8_E999)
        #expect(XXHash64.hash("a") == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXHash64.hash("abc") == 0x44BC_2CF5_AD77_0999)
        #expect(XXHash64.hash("10.0.0.1:8080_0") == 0x23A2_9AE7_75DF_D4A3)
        #expect(XXHash64.hash("The quick brown fox jumps over the lazy dog") == 0x0B24_2D36_1FDA_71BC)
        #expect(XXHash64.hash("0123456789abcdef0123456789abcdef0123", seed: 7) == 0x64BA_AAA0_88A3_A7E2)
        #expect(XXHash64.hash("hello", seed: 1) == 0x23DD_71CB_04D0_A1B2)
        #expect(XXHash64.hash(Array("abc".utf8)) == XXHash64.hash("abc"))
    }

    @Test func fastRandomIsReproducibleAndSeedDependent() {
        var a = FastRandom(seed: 1)
        var b = FastRandom(seed: 1)
        var c = FastRandom(seed: 2)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
        #expect(Set(first).count == 8)
    }

    @Test func fastRandomBitsAreBalanced() {
        var random = FastRandom(seed: 77)
        var ones = [Int](repeating: 0, count: 64)
        let draws = 20_000
        for _ in 0..<draws {
            let value = random.next()
            for bit in 0..<64 where value & (1 << UInt64(bit)) != 0 { ones[bit] += 1 }
        }
        for count in ones { #expect(abs(count - draws / 2) < 600) }
    }
}
