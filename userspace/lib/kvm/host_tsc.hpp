// The host's TSC rate, measured against CLOCK_MONOTONIC_RAW.  A kvmx guest
// reads the host's TSC unscaled (TSC offset 0), so this is the guest's TSC
// rate too, and telling the kernel (tsc_early_khz=) spares it calibrating
// against the PIT through a port-I/O exit per poll.
#pragma once

#include <cstdint>

namespace kvmx {

// kHz, or 0 when repeated measurements disagree by more than 0.1% (a TSC
// that changes rate, or a host too busy to measure on).
uint64_t measure_tsc_khz(unsigned sample_ms = 20, unsigned samples = 3);

} // namespace kvmx
