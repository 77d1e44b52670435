import FuzzProperties

/// libFuzzer's entry point (libFuzzer supplies `main`): checks EnvelopeProperty on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    EnvelopeProperty.target.fuzz(data, size)
    return 0
}
