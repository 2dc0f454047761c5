#include "console.hpp"

#include <unistd.h>

namespace kvmx {

RawTerminal::RawTerminal(int fd) : fd_(fd)
{
	if (!::isatty(fd) || ::tcgetattr(fd, &saved_) < 0)
		return;
	termios raw = saved_;
	cfmakeraw(&raw);
	// Output post-processing stays as it was: the guest sends CRLF, and
	// our own messages after it need the usual newline handling anyway.
	raw.c_oflag = saved_.c_oflag;
	if (::tcsetattr(fd, TCSANOW, &raw) == 0)
		active_ = true;
}

RawTerminal::~RawTerminal()
{
	if (active_)
		::tcsetattr(fd_, TCSANOW, &saved_);
}

bool ConsoleEscape::feed(const uint8_t *bytes, size_t n, std::vector<uint8_t> &to_guest)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = bytes[i];
		if (!after_escape_) {
			if (b == kEscape)
				after_escape_ = true;
			else
				to_guest.push_back(b);
			continue;
		}
		after_escape_ = false;
		if (b == 'x' || b == 'X')
			return true;
		// Ctrl-A Ctrl-A is a literal Ctrl-A; anything else passes
		// through with the Ctrl-A in front, as typed.
		to_guest.push_back(kEscape);
		if (b != kEscape)
			to_guest.push_back(b);
	}
	return false;
}

} // namespace kvmx
