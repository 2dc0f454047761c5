#include "devices.hpp"

#include <unistd.h>

#include <cstring>

namespace kvmx {

bool Serial8250::io(uint16_t port, bool in, uint8_t *data, unsigned size)
{
	if (port < base_ || port > base_ + 7)
		return false;
	unsigned reg = port - base_;
	bool dlab = lcr_ & 0x80;
	uint8_t v = size ? data[0] : 0;

	if (!in) {
		switch (reg) {
		case 0:
			if (dlab)
				dll_ = v;
			else if (::write(out_, &v, 1) < 0)
				return true;	/* output closed: drop it */
			break;
		case 1: (dlab ? dlm_ : ier_) = v; break;
		case 3: lcr_ = v; break;
		case 4: mcr_ = v; break;
		case 7: scr_ = v; break;
		default: break;
		}
		return true;
	}
	switch (reg) {
	case 0: v = dlab ? dll_ : 0; break;
	case 1: v = dlab ? dlm_ : ier_; break;
	case 2: v = 0x01; break;		/* IIR: no interrupt pending */
	case 3: v = lcr_; break;
	case 4: v = mcr_; break;
	case 5: v = 0x60; break;		/* LSR: transmitter empty */
	case 6: v = 0xb0; break;		/* MSR: DCD, DSR, CTS */
	case 7: v = scr_; break;
	}
	std::memset(data, 0, size);
	data[0] = v;
	return true;
}

bool DebugExit::io(uint16_t port, bool in, uint8_t *data, unsigned size)
{
	if (port != port_)
		return false;
	if (in)
		std::memset(data, 0, size);
	else if (!status_)
		status_ = data[0];
	return true;
}

bool MmioScratch::mmio(uint64_t gpa, bool write, uint8_t *data, unsigned len)
{
	if (gpa < base_ || gpa + len > base_ + sizeof(regs_))
		return false;
	accesses_++;
	if (write)
		std::memcpy(regs_ + (gpa - base_), data, len);
	else
		std::memcpy(data, regs_ + (gpa - base_), len);
	return true;
}

} // namespace kvmx
