// A 16550A UART with interrupts (COM1: 0x3f8, IRQ 4), enough for Linux's
// 8250 driver: its probe (scratch, IER and loopback tests, FIFO detection
// through IIR bits 7-6), interrupt-driven transmit and receive.
//
// Transmission is instant: THR is empty again as soon as it is written, so
// LSR always shows THRE|TEMT and a write re-arms the THRE interrupt.  The
// receive side is a queue fed by receive() (the console), larger than the
// 16-byte FIFO; the trigger level is not modelled (any byte raises the
// data-available interrupt) and neither is the character timeout.  The IRQ
// output is gated by MCR OUT2 and off in loopback, as on a PC.
//
// The one UART: the Linux PC's COM1 and the test machine's console.
#pragma once

#include <cstdint>
#include <deque>
#include <span>

#include "devices.hpp"
#include "irq.hpp"

namespace kvmx {

class Uart16550 : public Device {
public:
	Uart16550(int out_fd, IrqLine irq, uint16_t base = 0x3f8)
		: out_(out_fd), irq_(irq), base_(base) {}

	void attach(IoBus &bus) override { bus.add_pio(base_, 8, *this); }
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override;
	// Bytes from the outside world; beyond the queue size they are lost
	// and the overrun bit tells the guest so.
	void receive(std::span<const uint8_t> bytes);
	size_t rx_queued() const { return rx_.size(); }

	static constexpr size_t kRxQueueSize = 4096;

private:
	uint8_t read(unsigned reg);
	void write(unsigned reg, uint8_t v);
	uint8_t iir_id() const;
	uint8_t modem_status_lines() const;
	void set_mcr(uint8_t v);
	void update_irq();

	int out_;
	IrqLine irq_;
	uint16_t base_;
	std::deque<uint8_t> rx_;
	uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, dll_ = 12, dlm_ = 0;
	uint8_t msr_delta_ = 0;
	bool fifo_ = false, overrun_ = false, thre_pending_ = false;
};

} // namespace kvmx
