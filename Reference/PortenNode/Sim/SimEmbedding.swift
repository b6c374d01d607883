/// Deterministic unit vectors for the sim engine's embeddings.
///
/// The seed is the 64-bit FNV-1a hash of the input's UTF-8 bytes; splitmix64 draws one value per
/// dimension, each mapped to [-1, 1); the vector is then scaled to length 1.
public enum SimEmbedding {
    public static func vector(for text: String, dimensions: Int) -> [Float] {
        var state = fnv1a(text)
        var values: [Double] = []
        values.reserveCapacity(dimensions)
        for _ in 0..<dimensions {
            let draw = splitmix64(&state)
            values.append(Double(draw >> 11) / Double(1 << 53) * 2 - 1)
        }
        let length = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return values.map { Float($0 / length) }
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    static func splitmix64(_ state: inout UInt64) -> UInt64 {
        state = state &+ 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
