// Interrupt lines: a device drives a numbered input of an interrupt
// controller (the PIC pair) high or low; the controller decides what that
// means (edge or level) and when the CPU gets a vector.
#pragma once

namespace kvmx {

class IrqSink {
public:
	virtual ~IrqSink() = default;
	// Input @irq (0-15 on the PC) is now at @level.
	virtual void set_irq(unsigned irq, bool level) = 0;
};

// One device's wire to one controller input.  Unconnected lines (no sink)
// are allowed, so a device works without a controller in tests.
class IrqLine {
public:
	IrqLine() = default;
	IrqLine(IrqSink *sink, unsigned irq) : sink_(sink), irq_(irq) {}

	void set(bool level)
	{
		level_ = level;
		if (sink_)
			sink_->set_irq(irq_, level);
	}
	void raise() { set(true); }
	void lower() { set(false); }
	// Low-high-low: one edge for an edge-triggered input.
	void pulse()
	{
		set(true);
		set(false);
	}
	bool level() const { return level_; }

private:
	IrqSink *sink_ = nullptr;
	unsigned irq_ = 0;
	bool level_ = false;
};

} // namespace kvmx
