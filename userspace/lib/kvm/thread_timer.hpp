// A one-shot timer whose signal (SIGALRM) goes to the thread that made it,
// so a thread's KVM_RUN returns EINTR when its own deadline passes.
// alarm()/ualarm() belong to the whole process: their signal lands on any
// thread, and one thread's alarm(0) cancels another's, which left a thread
// of the stress tool spinning in its guest for good.
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "error.hpp"

namespace kvmx {

class ThreadTimer {
public:
	ThreadTimer()
	{
		// A handler without SA_RESTART: the signal interrupts KVM_RUN.
		struct sigaction sa {};
		sa.sa_handler = [](int) {};
		sigemptyset(&sa.sa_mask);
		::sigaction(SIGALRM, &sa, nullptr);
		sigevent sev{};
		sev.sigev_notify = SIGEV_THREAD_ID;
		sev.sigev_signo = SIGALRM;
		sev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));	// sigev_notify_thread_id
		if (::timer_create(CLOCK_MONOTONIC, &sev, &t_))
			throw Error("timer_create", errno);
	}
	~ThreadTimer() { ::timer_delete(t_); }
	ThreadTimer(const ThreadTimer &) = delete;
	ThreadTimer &operator=(const ThreadTimer &) = delete;

	// Fires once, @usec from now; 0 disarms.
	void arm(long usec)
	{
		itimerspec its{};
		its.it_value.tv_sec = usec / 1000000;
		its.it_value.tv_nsec = (usec % 1000000) * 1000;
		::timer_settime(t_, 0, &its, nullptr);
	}
	// Whether the last arm()'s time has come.
	bool expired() const
	{
		itimerspec its{};
		::timer_gettime(t_, &its);
		return its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0;
	}

private:
	timer_t t_{};
};

} // namespace kvmx
