// The terminal side of the guest's serial console: raw mode while the
// guest owns the terminal, and the Ctrl-A escape (Ctrl-A x quits, Ctrl-A
// Ctrl-A sends one Ctrl-A), as in QEMU's -nographic.
#pragma once

#include <termios.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvmx {

// Puts a tty into raw mode (no echo, no line editing, no signals from
// Ctrl-C: those keys belong to the guest) and restores it when destroyed.
// Does nothing if the fd is not a tty.
class RawTerminal {
public:
	explicit RawTerminal(int fd);
	RawTerminal(const RawTerminal &) = delete;
	RawTerminal &operator=(const RawTerminal &) = delete;
	~RawTerminal();
	bool active() const { return active_; }

private:
	int fd_;
	bool active_ = false;
	termios saved_{};
};

// Splits terminal input into bytes for the guest and the quit request.
class ConsoleEscape {
public:
	static constexpr uint8_t kEscape = 0x01;	// Ctrl-A

	// Appends to @to_guest what the guest should get; true when the
	// user asked to quit (the rest of the input is dropped).
	bool feed(const uint8_t *bytes, size_t n, std::vector<uint8_t> &to_guest);

private:
	bool after_escape_ = false;
};

} // namespace kvmx
