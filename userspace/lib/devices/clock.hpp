// Time sources for device models, injectable so tests can step time by hand.
#pragma once

#include <time.h>

#include <cstdint>

namespace kvmx {

class Clock {
public:
	virtual ~Clock() = default;
	virtual uint64_t now_ns() const = 0;
};

// clock_gettime(@id): CLOCK_MONOTONIC for timers, CLOCK_REALTIME for the RTC.
class HostClock : public Clock {
public:
	explicit HostClock(clockid_t id = CLOCK_MONOTONIC) : id_(id) {}
	uint64_t now_ns() const override
	{
		timespec ts{};
		clock_gettime(id_, &ts);
		return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
	}

private:
	clockid_t id_;
};

// Time that moves only when told to.
class ManualClock : public Clock {
public:
	explicit ManualClock(uint64_t start_ns = 0) : t_(start_ns) {}
	uint64_t now_ns() const override { return t_; }
	void set(uint64_t ns) { t_ = ns; }
	void advance(uint64_t ns) { t_ += ns; }

private:
	uint64_t t_;
};

} // namespace kvmx
