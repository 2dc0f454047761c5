#include "uart_16550.hpp"

#include <unistd.h>

#include <cstring>

namespace kvmx {

namespace {

enum : uint8_t {
	IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MS = 0x08,
	IIR_NONE = 0x01, IIR_MS = 0x00, IIR_THRE = 0x02, IIR_RDA = 0x04, IIR_RLS = 0x06,
	IIR_FIFO = 0xc0,
	LCR_DLAB = 0x80,
	MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10,
	LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40,
	MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80, MSR_TERI = 0x04,
};

} // namespace

// Interrupt sources by priority: line status, data, THR empty, modem.
uint8_t Uart16550::iir_id() const
{
	if ((ier_ & IER_RLS) && overrun_)
		return IIR_RLS;
	if ((ier_ & IER_RDA) && !rx_.empty())
		return IIR_RDA;
	if ((ier_ & IER_THRE) && thre_pending_)
		return IIR_THRE;
	if ((ier_ & IER_MS) && msr_delta_)
		return IIR_MS;
	return IIR_NONE;
}

void Uart16550::update_irq()
{
	bool on = iir_id() != IIR_NONE && (mcr_ & MCR_OUT2) && !(mcr_ & MCR_LOOP);
	if (on != irq_.level())
		irq_.set(on);
}

// In loopback the modem outputs come back as inputs: RTS->CTS, DTR->DSR,
// OUT1->RI, OUT2->DCD.  Otherwise a cable with the other end ready.
uint8_t Uart16550::modem_status_lines() const
{
	if (!(mcr_ & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return uint8_t((mcr_ & MCR_RTS ? MSR_CTS : 0) | (mcr_ & MCR_DTR ? MSR_DSR : 0) |
		       (mcr_ & MCR_OUT1 ? MSR_RI : 0) | (mcr_ & MCR_OUT2 ? MSR_DCD : 0));
}

void Uart16550::set_mcr(uint8_t v)
{
	uint8_t before = modem_status_lines();
	mcr_ = v & 0x1f;
	uint8_t after = modem_status_lines();
	uint8_t changed = before ^ after;
	// Delta bits 0-3 mirror lines 4-7; RI only counts its trailing edge.
	msr_delta_ |= (changed >> 4) & ~MSR_TERI;
	if ((before & MSR_RI) && !(after & MSR_RI))
		msr_delta_ |= MSR_TERI;
}

void Uart16550::receive(std::span<const uint8_t> bytes)
{
	for (uint8_t b : bytes) {
		if (rx_.size() >= kRxQueueSize)
			overrun_ = true;
		else
			rx_.push_back(b);
	}
	update_irq();
}

uint8_t Uart16550::read(unsigned reg)
{
	bool dlab = lcr_ & LCR_DLAB;
	uint8_t v = 0;

	switch (reg) {
	case 0:
		if (dlab) {
			v = dll_;
		} else if (!rx_.empty()) {
			v = rx_.front();
			rx_.pop_front();
		}
		break;
	case 1: v = dlab ? dlm_ : ier_; break;
	case 2:
		v = iir_id();
		if (v == IIR_THRE)
			thre_pending_ = false;	/* reading it acknowledges THRE */
		if (fifo_)
			v |= IIR_FIFO;
		break;
	case 3: v = lcr_; break;
	case 4: v = mcr_; break;
	case 5:
		v = LSR_THRE | LSR_TEMT | (rx_.empty() ? 0 : LSR_DR) | (overrun_ ? LSR_OE : 0);
		overrun_ = false;
		break;
	case 6:
		v = modem_status_lines() | msr_delta_;
		msr_delta_ = 0;
		break;
	case 7: v = scr_; break;
	}
	return v;
}

void Uart16550::write(unsigned reg, uint8_t v)
{
	bool dlab = lcr_ & LCR_DLAB;

	switch (reg) {
	case 0:
		if (dlab) {
			dll_ = v;
			break;
		}
		if (mcr_ & MCR_LOOP) {
			if (rx_.size() < kRxQueueSize)
				rx_.push_back(v);
			else
				overrun_ = true;
		} else if (::write(out_, &v, 1) < 0) {
			/* output closed: the byte is lost, as on a cut cable */
		}
		thre_pending_ = true;		/* sent already: THR empty again */
		break;
	case 1:
		if (dlab) {
			dlm_ = v;
		} else {
			// Enabling THRE with THR empty interrupts at once.
			if (!(ier_ & IER_THRE) && (v & IER_THRE))
				thre_pending_ = true;
			ier_ = v & 0x0f;
		}
		break;
	case 2:					/* FCR */
		fifo_ = v & 0x01;
		if (v & 0x02)
			rx_.clear();
		break;
	case 3: lcr_ = v; break;
	case 4: set_mcr(v); break;
	case 7: scr_ = v; break;
	default: break;				/* LSR, MSR: read-only */
	}
}

bool Uart16550::io(uint16_t port, bool in, uint8_t *data, unsigned size)
{
	if (port < base_ || port > base_ + 7)
		return false;
	if (in) {
		std::memset(data, 0, size);
		data[0] = read(port - base_);
	} else {
		write(port - base_, data[0]);
	}
	update_irq();
	return true;
}

} // namespace kvmx
