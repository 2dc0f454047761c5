#include "i8042.hpp"

#include <cstring>

namespace kvmx {

namespace {

enum : uint8_t {
	STS_OBF = 0x01, STS_SYS = 0x04, STS_CMD = 0x08, STS_UNLOCKED = 0x10,
	CMD_READ_CTR = 0x20, CMD_WRITE_CTR = 0x60,
	CMD_AUX_DISABLE = 0xa7, CMD_AUX_ENABLE = 0xa8, CMD_AUX_TEST = 0xa9,
	CMD_SELF_TEST = 0xaa, CMD_KBD_TEST = 0xab,
	CMD_KBD_DISABLE = 0xad, CMD_KBD_ENABLE = 0xae,
	CMD_READ_OUTPORT = 0xd0, CMD_WRITE_OUTPORT = 0xd1,
	CMD_WRITE_KBD_OBUF = 0xd2, CMD_WRITE_AUX_OBUF = 0xd3, CMD_WRITE_AUX = 0xd4,
	CTR_KBD_DISABLED = 0x10, CTR_AUX_DISABLED = 0x20,
};

} // namespace

uint8_t I8042::status() const
{
	// Input buffer always empty: we take bytes at once.  SYS: POST passed.
	return uint8_t((out_ ? STS_OBF : 0) | STS_SYS | STS_UNLOCKED |
		       (last_was_cmd_ ? STS_CMD : 0));
}

void I8042::reset()
{
	if (on_reset_)
		on_reset_();
}

void I8042::command(uint8_t cmd)
{
	pending_ = 0;
	if (cmd >= 0x20 && cmd < 0x40) {	/* read controller RAM; 0 is the CTR */
		out_ = cmd == CMD_READ_CTR ? ctr_ : 0;
		return;
	}
	if ((cmd >= 0x60 && cmd < 0x80) || cmd == CMD_WRITE_OUTPORT ||
	    cmd == CMD_WRITE_KBD_OBUF || cmd == CMD_WRITE_AUX_OBUF || cmd == CMD_WRITE_AUX) {
		pending_ = cmd;			/* the data byte follows on 0x60 */
		return;
	}
	if (cmd >= 0xf0) {
		// Pulse output port bits 0-3 low for each clear bit of the
		// command; bit 0 is the CPU reset line (0xfe: reset).
		if (!(cmd & 0x01))
			reset();
		return;
	}
	switch (cmd) {
	case CMD_SELF_TEST: out_ = 0x55; break;
	case CMD_KBD_TEST: out_ = 0x00; break;
	case CMD_AUX_TEST: out_ = 0x00; break;
	case CMD_READ_OUTPORT: out_ = out_port_; break;
	case CMD_KBD_DISABLE: ctr_ |= CTR_KBD_DISABLED; break;
	case CMD_KBD_ENABLE: ctr_ &= ~CTR_KBD_DISABLED; break;
	case CMD_AUX_DISABLE: ctr_ |= CTR_AUX_DISABLED; break;
	case CMD_AUX_ENABLE: ctr_ &= ~CTR_AUX_DISABLED; break;
	default: break;				/* others: accepted, no effect */
	}
}

void I8042::data_write(uint8_t v)
{
	uint8_t cmd = pending_;
	pending_ = 0;

	if (cmd == CMD_WRITE_CTR) {
		ctr_ = v;
	} else if (cmd == CMD_WRITE_OUTPORT) {
		out_port_ = v;
		if (!(v & 0x01))
			reset();
	} else if (cmd == CMD_WRITE_KBD_OBUF || cmd == CMD_WRITE_AUX_OBUF) {
		out_ = v;			/* loop the byte back */
	}
	// Anything else is for a keyboard (or mouse) that isn't there.
}

bool I8042::io(uint16_t port, bool in, uint8_t *data, unsigned size)
{
	if (port != 0x60 && port != 0x64)
		return false;
	if (in) {
		std::memset(data, 0, size);
		if (port == 0x64) {
			data[0] = status();
		} else {
			data[0] = out_.value_or(0);
			out_.reset();
		}
		return true;
	}
	last_was_cmd_ = port == 0x64;
	if (port == 0x64)
		command(data[0]);
	else
		data_write(data[0]);
	return true;
}

} // namespace kvmx
