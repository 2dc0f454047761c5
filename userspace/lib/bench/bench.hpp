// `kvmx bench`: what a VM exit and a VM cost, measured the same way on
// /dev/kvmx and /dev/kvm.  Exit costs are timed inside the guest with RDTSC
// (the bench guest); VM lifecycle and memory from userspace.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kvmx {

struct BenchOptions {
	unsigned iterations = 2000;	// per timed loop
	unsigned repeats = 7;		// timed loops per figure (fresh VM each)
	unsigned lifecycle = 40;	// VMs per lifecycle repeat
	bool scale = false;		// also 1/4/16 VMs at once, threads and processes
	std::vector<std::string> only;	// just these figures (names as in the table); all if empty
};

// One figure: the per-repeat values and their summary.
struct Figure {
	std::string name;	// e.g. "cpuid"
	std::string what;	// a sentence for the table
	std::string unit;	// "ticks" or "VMs/s" or "KiB"
	bool higher_is_better = false;
	unsigned iterations = 0;
	std::vector<double> samples;
	double median() const;
	double min() const;
	double max() const;
	double spread_pct() const;	// (max - min) / median
};

// Runs the whole set on @device.  @guest is the bench guest image.
std::vector<Figure> run_bench(const std::string &device, std::span<const uint8_t> guest,
			      const BenchOptions &o);

// The table: figure, kvmx, KVM, ratio (kvmx / KVM).
std::string format_bench_table(const std::vector<Figure> &kvmx, const std::vector<Figure> &kvm);
// One device alone.
std::string format_bench_table(const std::vector<Figure> &figs, const std::string &device);
// JSON of one or two result sets: {"devices": {"/dev/kvmx": [...], ...}}.
std::string bench_json(const std::vector<std::pair<std::string, std::vector<Figure>>> &sets);

} // namespace kvmx
