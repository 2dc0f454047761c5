#include "cmos_rtc.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>

namespace kvmx {

namespace {

constexpr uint8_t REG_B_24H = 0x02, REG_B_BINARY = 0x04;

} // namespace

CmosRtc::CmosRtc(const Clock &wall, uint64_t ram_below_4g, uint64_t ram_above_4g) : wall_(wall)
{
	nvram_[kRegA] = 0x26;			/* 32.768 kHz time base, 1024 Hz rate */
	nvram_[kRegB] = REG_B_24H;		/* BCD, 24-hour, no interrupts */
	nvram_[kRegD] = 0x80;			/* valid RAM and time */
	nvram_[0x10] = 0x00;			/* no floppies */
	nvram_[0x14] = 0x06;			/* equipment: FPU, VGA-class display */
	nvram_[0x15] = 640 & 0xff;		/* base memory, KiB */
	nvram_[0x16] = 640 >> 8;
	// Extended memory 1-64 MiB in KiB (0x17 and its POST copy at 0x30),
	// 16 MiB-4 GiB in 64 KiB units, above 4 GiB in 64 KiB units.
	uint64_t ext_k = ram_below_4g > (1 << 20) ? (ram_below_4g - (1 << 20)) >> 10 : 0;
	ext_k = std::min<uint64_t>(ext_k, 0xfc00);
	nvram_[0x17] = nvram_[0x30] = ext_k & 0xff;
	nvram_[0x18] = nvram_[0x31] = ext_k >> 8;
	uint64_t above16 = ram_below_4g > (16 << 20) ? (ram_below_4g - (16 << 20)) >> 16 : 0;
	above16 = std::min<uint64_t>(above16, 0xffff);
	nvram_[0x34] = above16 & 0xff;
	nvram_[0x35] = above16 >> 8;
	uint64_t above4g = ram_above_4g >> 16;
	nvram_[0x5b] = above4g & 0xff;
	nvram_[0x5c] = (above4g >> 8) & 0xff;
	nvram_[0x5d] = (above4g >> 16) & 0xff;
}

uint8_t CmosRtc::encode(unsigned v) const
{
	if (nvram_[kRegB] & REG_B_BINARY)
		return uint8_t(v);
	return uint8_t((v / 10) << 4 | v % 10);
}

uint8_t CmosRtc::hours(unsigned h) const
{
	if (nvram_[kRegB] & REG_B_24H)
		return encode(h);
	// 12-hour form: 1-12, bit 7 set for PM.
	unsigned h12 = h % 12 ? h % 12 : 12;
	return uint8_t(encode(h12) | (h >= 12 ? 0x80 : 0));
}

uint8_t CmosRtc::read(uint8_t index) const
{
	index &= 0x7f;
	uint64_t ns = wall_.now_ns();
	time_t secs = time_t(ns / 1000000000ULL);
	tm t{};
	gmtime_r(&secs, &t);

	switch (index) {
	case 0x00: return encode(t.tm_sec);
	case 0x02: return encode(t.tm_min);
	case 0x04: return hours(t.tm_hour);
	case 0x06: return encode(t.tm_wday + 1);	/* 1 = Sunday */
	case 0x07: return encode(t.tm_mday);
	case 0x08: return encode(t.tm_mon + 1);
	case 0x09: return encode(t.tm_year % 100);
	case 0x32: return encode(19 + t.tm_year / 100);	/* century */
	case kRegA: {
		// The part updates once a second and raises UIP 244 us before.
		bool uip = ns % 1000000000ULL >= 1000000000ULL - 244000;
		return uint8_t((nvram_[kRegA] & 0x7f) | (uip ? 0x80 : 0));
	}
	case kRegC: return 0;				/* no interrupt flags */
	case kRegD: return 0x80;
	default: return nvram_[index];
	}
}

void CmosRtc::write(uint8_t index, uint8_t v)
{
	index &= 0x7f;
	switch (index) {
	case kRegA: nvram_[kRegA] = v & 0x7f; break;	/* UIP is read-only */
	case kRegC: case kRegD: break;			/* read-only */
	case 0x00: case 0x02: case 0x04: case 0x06:
	case 0x07: case 0x08: case 0x09: case 0x32:
		break;		/* setting the clock: ignored, the host's time rules */
	default: nvram_[index] = v; break;
	}
}

bool CmosRtc::io(uint16_t port, bool in, uint8_t *data, unsigned size)
{
	if (port != 0x70 && port != 0x71)
		return false;
	if (in)
		std::memset(data, 0, size);
	if (port == 0x70) {
		if (in)
			data[0] = 0xff;		/* the index register is write-only */
		else
			index_ = data[0] & 0x7f;	/* bit 7: NMI mask, ignored */
	} else if (in) {
		data[0] = read(index_);
	} else {
		write(index_, data[0]);
	}
	return true;
}

} // namespace kvmx
