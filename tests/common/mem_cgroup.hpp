// Files of /proc and /sys as strings, and a memory cgroup (cgroup v2) for
// the rig tests and the stress tool: both put guests under memory pressure.
#pragma once

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace testutil {

inline bool put_file(const std::string &path, const std::string &val)
{
	std::ofstream f(path);
	f << val;
	return bool(f.flush());
}

inline std::string get_file(const std::string &path)
{
	std::ifstream f(path);
	return std::string(std::istreambuf_iterator<char>(f), {});
}

// The number after @key at the start of a line ("key value [unit]"), or -1.
inline long long field(const std::string &text, const std::string &key)
{
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line)) {
		std::istringstream l(line);
		std::string k;
		long long v;
		if (l >> k >> v && k == key)
			return v;
	}
	return -1;
}

// A memory cgroup under /sys/fs/cgroup (mounted if it is not): memory.max
// and memory.swap.max as given; removed again at the end.  With @join this
// process moves in for the object's lifetime (what it allocates meanwhile
// is charged there); else processes join with join(pid), e.g. after fork.
class MemCgroup {
public:
	MemCgroup(const std::string &name, const std::string &max, const std::string &swap_max,
		  bool join_now)
		: dir_(kRoot + "/" + name)
	{
		::mkdir(kRoot.c_str(), 0755);
		if (::access((kRoot + "/cgroup.procs").c_str(), F_OK))
			::mount("cgroup2", kRoot.c_str(), "cgroup2", 0, nullptr);
		::mkdir(dir_.c_str(), 0755);
		ok_ = put_file(kRoot + "/cgroup.subtree_control", "+memory") &&
		      put_file(dir_ + "/memory.max", max) &&
		      put_file(dir_ + "/memory.swap.max", swap_max) &&
		      (!join_now || join(::getpid()));
		joined_ = join_now && ok_;
	}
	~MemCgroup()
	{
		if (joined_)
			put_file(kRoot + "/cgroup.procs", std::to_string(::getpid()));
		::rmdir(dir_.c_str());
	}
	MemCgroup(const MemCgroup &) = delete;
	MemCgroup &operator=(const MemCgroup &) = delete;

	bool ok() const { return ok_; }
	bool join(pid_t pid) const { return put_file(dir_ + "/cgroup.procs", std::to_string(pid)); }
	// A counter file's number (memory.swap.current), or @key's in a
	// key-value file (memory.stat); -1 if absent.
	long long stat(const std::string &file, const std::string &key = "") const
	{
		std::string t = get_file(dir_ + "/" + file);
		if (key.empty())
			return t.empty() ? -1 : std::atoll(t.c_str());
		return field(t, key);
	}
	// Proactive reclaim of @bytes (memory.reclaim); it may fall short
	// (EAGAIN), which the callers' checks see.
	void reclaim(size_t bytes) const { put_file(dir_ + "/memory.reclaim", std::to_string(bytes)); }

private:
	inline static const std::string kRoot = "/sys/fs/cgroup";
	std::string dir_;
	bool ok_ = false, joined_ = false;
};

}  // namespace testutil
