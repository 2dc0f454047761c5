/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Force-included (-include) into every KVM selftest built by
 * scripts/build-kvm-selftests.sh.  Debian's linux-source-6.1 (6.1.192) carries
 * two stable backports whose helpers were not backported with them:
 *  - dirty_log_test.c uses TEST_ASSERT_EQ(), which 6.1's test_util.h lacks;
 *  - the uapi <asm/kvm.h> uses __DECLARE_FLEX_ARRAY(), which the tools copy of
 *    <linux/types.h> that steal_time.c pulls in first does not define.
 * Both definitions are the upstream ones, so a later header that defines them
 * again does so identically.
 */
#ifndef KVMX_SELFTEST_COMPAT_H
#define KVMX_SELFTEST_COMPAT_H

#ifndef TEST_ASSERT_EQ
#define TEST_ASSERT_EQ(a, b) \
	TEST_ASSERT((a) == (b), "%s == %s failed: 0x%lx != 0x%lx", #a, #b, \
		    (unsigned long)(a), (unsigned long)(b))
#endif

#ifndef __DECLARE_FLEX_ARRAY
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) struct { struct { } __empty_ ## NAME; TYPE NAME[]; }
#endif

#endif
