// Seeded draws from named distributions. The selectors sample with them (Thompson
// sampling in `learned`, bid noise in `auction`) from the run's journaled generator, and
// the simulator (EzflowSim, EzflowHost) from its own streams; so they stay in the core.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A source of 64 random bits per call. `SeededRandom` (the run's generator) is one, so
/// selectors draw from the journaled state and the sim driver from its own stream.
public protocol DrawSource {
    mutating func next() -> UInt64
}

extension SeededRandom: DrawSource {}

/// Uniform and derived draws from any 64-bit generator, defined bit for bit here so the
/// same seed gives the same numbers on every platform and toolchain.
public enum SimDraw {
    /// Uniform in [0, 1) with 53 bits.
    @inline(__always)
    public static func unit(_ r: inout some DrawSource) -> Double {
        Double(r.next() >> 11) * 0x1p-53
    }

    /// Standard normal (Box–Muller; one value per call, the pair's twin is dropped).
    public static func normal(_ r: inout some DrawSource) -> Double {
        let u1 = 1.0 - unit(&r) // (0, 1]
        let u2 = unit(&r)
        return (-2.0 * log(u1)).squareRoot() * cos(2.0 * Double.pi * u2)
    }

    /// Gamma(shape, 1) by Marsaglia–Tsang (shape > 0); bounded to 64 rejections.
    public static func gamma(_ shape: Double, _ r: inout some DrawSource) -> Double {
        if shape < 1 {
            let g = gamma(shape + 1, &r)
            return g * pow(max(unit(&r), 1e-300), 1 / shape)
        }
        let d = shape - 1.0 / 3.0, c = 1.0 / (9.0 * d).squareRoot()
        for _ in 0..<64 {
            let x = normal(&r)
            let v0 = 1 + c * x
            if v0 <= 0 { continue }
            let v = v0 * v0 * v0
            let u = unit(&r)
            if log(max(u, 1e-300)) < 0.5 * x * x + d - d * v + d * log(v) { return d * v }
        }
        return d // the mode: reached with probability < 1e-30
    }

    /// Beta(a, b) through two gammas.
    public static func beta(_ a: Double, _ b: Double, _ r: inout some DrawSource) -> Double {
        let x = gamma(a, &r), y = gamma(b, &r)
        return x + y > 0 ? x / (x + y) : 0.5
    }
}
