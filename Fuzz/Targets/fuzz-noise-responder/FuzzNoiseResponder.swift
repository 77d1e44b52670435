import FuzzProperties

/// libFuzzer's entry point (libFuzzer supplies `main`): checks NoiseResponderProperty on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    NoiseResponderProperty.target.fuzz(data, size)
    return 0
}
