@testable import PortenHub
import Testing

/// Outlier ejection of a node for one model: two failures in a row, a doubling back-off, probes.
struct OutlierStateTests {
    private let start = ContinuousClock.now

    @Test func oneFailureIsForgivenTwoEject() {
        var state = OutlierState()
        state.fail(at: start)
        #expect(!state.isEjected(at: start))
        state.fail(at: start)
        #expect(state.isEjected(at: start) && state.isEjected(at: start + .milliseconds(999)))
        #expect(!state.isEjected(at: start + .seconds(1)))
    }

    @Test func eachFailedProbeDoublesTheBackoffUpToAMinute() {
        var state = OutlierState()
        state.fail(at: start)
        var time = start
        var backoffs: [Duration] = []
        for _ in 0..<9 {
            state.fail(at: time)
            let until = state.ejectedUntil!
            backoffs.append(until - time)
            time = until  // the probe, when the back-off ends, fails again
        }
        #expect(backoffs.map { $0 / .seconds(1) } == [1, 2, 4, 8, 16, 32, 60, 60, 60])
    }
}
