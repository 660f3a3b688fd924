/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest-side checks of the vfbroker_vfio_pci module: the per-VF token matrix
 * and forced revocation of a VF held by an unprivileged process. */

/*
 * Runs as root in the busybox guest (tests/vm/kmod/guest/), with the PF bound
 * to vfbroker_vfio_pci and SR-IOV off. Prints one "ok - ..." or
 * "not ok - ... # why" line per check (tools/vm numbers them) and "# ..."
 * diagnostics; exits 1 if any check failed.
 *
 *   kmodtest tokens PF-BDF    per-VF token matrix on two VFs of PF
 *   kmodtest revoke PF-BDF    revocation while uid 65534 holds VF0
 *   kmodtest race PF-BDF      revocation racing with the last close of VF0
 *   kmodtest hold VF TOKEN READY-FILE
 *                             open VF with TOKEN, create READY-FILE, sleep
 *                             until killed (module unload checks)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <linux/vfio.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOBODY 65534
#define DMA_IOVA 0x100000ULL
#define MAX_GROUPS 256

static int n_failed;

static void check(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf(cond ? "ok - " : "not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		n_failed++;
}

static const char *errname(int e)
{
	static char buf[4][48];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s", e ? strerrorname_np(e) : "success");
	return buf[i];
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* --- sysfs ------------------------------------------------------------------- */

static int sysfs_write(const char *bdf, const char *attr, const char *val)
{
	char path[256];
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}

static int group_of(const char *bdf)
{
	char path[256], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -1;
	link[n] = 0;
	return atoi(basename(link));
}

static int vf_bdf(const char *pf, int idx, char ret[32])
{
	char path[256], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn%d", pf, idx);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = 0;
	snprintf(ret, 32, "%s", basename(link));
	return 0;
}

/* --- VFIO group/container ------------------------------------------------------ */

static int container = -1;
static int group_fd[MAX_GROUPS];
static bool iommu_set;

static int container_open(void)
{
	if (container >= 0)
		return 0;
	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	return container < 0 ? -errno : 0;
}

static int group_attach(int g)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int fd;

	if (g < 0 || g >= MAX_GROUPS)
		return -EINVAL;
	if (group_fd[g] > 0)
		return group_fd[g];
	snprintf(path, sizeof(path), "/dev/vfio/%d", g);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0 || !(st.flags & VFIO_GROUP_FLAGS_VIABLE) ||
	    ioctl(fd, VFIO_GROUP_SET_CONTAINER, &container) < 0 ||
	    (!iommu_set && ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)) {
		int e = errno ? errno : EIO;

		close(fd);
		return -e;
	}
	iommu_set = true;
	return group_fd[g] = fd;
}

static void group_detach(int g)
{
	bool any = false;

	if (g < 0 || g >= MAX_GROUPS || group_fd[g] <= 0)
		return;
	ioctl(group_fd[g], VFIO_GROUP_UNSET_CONTAINER);
	close(group_fd[g]);
	group_fd[g] = 0;
	for (int i = 0; i < MAX_GROUPS; i++)
		any |= group_fd[i] > 0;
	/* the container loses its IOMMU with its last group */
	if (!any)
		iommu_set = false;
}

/* fd, or -errno; token NULL: the bare name; "" adds an empty vf_token= */
static int device_open(const char *bdf, const char *token)
{
	char name[128];
	int gfd, fd;

	gfd = group_attach(group_of(bdf));
	if (gfd < 0)
		return gfd;
	if (token)
		snprintf(name, sizeof(name), "%s vf_token=%s", bdf, token);
	else
		snprintf(name, sizeof(name), "%s", bdf);
	fd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, name);
	return fd < 0 ? -errno : fd;
}

/* open, note the result, close again: what a check of "opens or not" needs */
static int try_open(const char *bdf, const char *token)
{
	int fd = device_open(bdf, token);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return fd;
}

static int parse_uuid(const char *s, uint8_t out[16])
{
	int n = 0;

	for (; *s && n < 16; s++) {
		unsigned int v;

		if (*s == '-')
			continue;
		if (sscanf(s, "%2x", &v) != 1)
			return -EINVAL;
		out[n++] = v;
		s++;
	}
	return n == 16 ? 0 : -EINVAL;
}

static int set_pf_token(int pf_fd, const char *uuid)
{
	struct {
		struct vfio_device_feature f;
		uint8_t uuid[16];
	} a = { .f = { .argsz = sizeof(a),
		       .flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN } };

	if (parse_uuid(uuid, a.uuid) < 0)
		return -EINVAL;
	return ioctl(pf_fd, VFIO_DEVICE_FEATURE, &a) < 0 ? -errno : 0;
}

/* the command register as the hardware has it (root reads sysfs config) */
static int pci_command(const char *bdf)
{
	char path[256];
	uint16_t cmd;
	int fd, n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, &cmd, 2, 4);
	close(fd);
	return n == 2 ? cmd : -EIO;
}

static bool mode_is(const char *bdf, const char *attr, mode_t want)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	return stat(path, &st) == 0 && (st.st_mode & 07777) == want && st.st_uid == 0;
}

static bool exists(const char *bdf, const char *attr)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	return access(path, F_OK) == 0;
}

static int drop_privileges(void)
{
	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return -errno;
	return 0;
}

static const char PF_TOKEN[] = "11111111-2222-3333-4444-555555555555";
static const char T0[] = "a0a0a0a0-0000-4000-8000-000000000000";
static const char T1[] = "b1b1b1b1-1111-4111-8111-111111111111";

/* --- per-VF token matrix --------------------------------------------------------- */

static int sriov_enable(const char *pf, char vf0[32], char vf1[32])
{
	int r;

	r = sysfs_write(pf, "sriov_numvfs", "2");
	check(r == 0, "%s: sriov_numvfs=2 through the module's sriov_configure (%s)", pf, errname(-r));
	if (r < 0 || vf_bdf(pf, 0, vf0) < 0 || vf_bdf(pf, 1, vf1) < 0)
		return -ENODEV;
	usleep(200 * 1000);
	return 0;
}

static int child_token_attr_nobody(const char *vf)
{
	int r = drop_privileges();

	if (r < 0)
		return 2;
	r = sysfs_write(vf, "vfbroker_token", T0);
	if (r != -EACCES) {
		printf("# uid 65534 writing vfbroker_token: %s\n", errname(-r));
		return 1;
	}
	r = sysfs_write(vf, "vfbroker_revoke", "1");
	if (r != -EACCES) {
		printf("# uid 65534 writing vfbroker_revoke: %s\n", errname(-r));
		return 1;
	}
	return 0;
}

static int run_tokens(const char *pf)
{
	char vf0[32], vf1[32];
	int pf_fd, r, st;
	pid_t pid;

	if (container_open() < 0) {
		check(false, "open /dev/vfio/vfio (%s)", errname(errno));
		return 1;
	}
	check(!exists(pf, "vfbroker_token") && !exists(pf, "vfbroker_revoke"),
	      "%s: the PF has no vfbroker_token or vfbroker_revoke attribute", pf);

	/* the PF token, set by the PF owner while no VF is open */
	pf_fd = device_open(pf, NULL);
	check(pf_fd >= 0, "%s: open the PF (%s)", pf, errname(pf_fd < 0 ? -pf_fd : 0));
	if (pf_fd < 0)
		return 1;
	r = set_pf_token(pf_fd, PF_TOKEN);
	check(r == 0, "%s: set the PF token with VFIO_DEVICE_FEATURE_PCI_VF_TOKEN (%s)", pf, errname(-r));
	if (sriov_enable(pf, vf0, vf1) < 0)
		return 1;

	printf("# VF0 %s (group %d), VF1 %s (group %d)\n", vf0, group_of(vf0), vf1, group_of(vf1));
	check(mode_is(vf0, "vfbroker_token", 0200) && mode_is(vf0, "vfbroker_revoke", 0200),
	      "%s: vfbroker_token and vfbroker_revoke are 0200 root", vf0);

	/* no per-VF token yet: vfio-pci's rules, the PF token opens both */
	r = try_open(vf0, PF_TOKEN);
	check(r == 0, "VF0 without a per-VF token opens with the PF token (%s)", errname(-r));
	r = try_open(vf0, NULL);
	check(r == -EACCES, "VF0 without a per-VF token and without a token: EACCES (%s)", errname(-r));

	r = sysfs_write(vf0, "vfbroker_token", T0);
	check(r == 0, "set VF0's token (%s)", errname(-r));
	r = sysfs_write(vf1, "vfbroker_token", T1);
	check(r == 0, "set VF1's token (%s)", errname(-r));

	r = try_open(vf0, T0);
	check(r == 0, "VF0 opens with its own token (%s)", errname(-r));
	r = try_open(vf0, T1);
	check(r == -EACCES, "VF0 with VF1's token: EACCES (%s)", errname(-r));
	r = try_open(vf0, PF_TOKEN);
	check(r == -EACCES, "VF0 with the PF token while its own is set: EACCES (%s)", errname(-r));
	r = try_open(vf0, NULL);
	check(r == -EACCES, "VF0 without a token: EACCES (%s)", errname(-r));
	r = try_open(vf0, "not-a-uuid");
	check(r == -EINVAL, "VF0 with a malformed token: EINVAL (%s)", errname(-r));
	r = try_open(vf1, T1);
	check(r == 0, "VF1 opens with its own token (%s)", errname(-r));
	r = try_open(vf1, T0);
	check(r == -EACCES, "VF1 with VF0's token: EACCES (%s)", errname(-r));

	/* both VFs open at once, each with its own token */
	{
		int a = device_open(vf0, T0), b = device_open(vf1, T1);

		check(a >= 0 && b >= 0, "VF0 and VF1 open at the same time with their own tokens (%s, %s)",
		      errname(a < 0 ? -a : 0), errname(b < 0 ? -b : 0));
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
	}

	r = sysfs_write(vf0, "vfbroker_token", "not-a-uuid\n");
	check(r == -EINVAL, "writing a malformed token: EINVAL (%s)", errname(-r));
	r = sysfs_write(vf0, "vfbroker_token", "00000000-0000-0000-0000-000000000000\n");
	check(r == -EINVAL, "writing the null UUID: EINVAL (%s)", errname(-r));
	r = try_open(vf0, T0);
	check(r == 0, "VF0's token is unchanged by refused writes (%s)", errname(-r));

	pid = fork();
	if (pid == 0)
		_exit(child_token_attr_nobody(vf0));
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "uid 65534 cannot write vfbroker_token or vfbroker_revoke (EACCES)");

	/* clearing falls back to the PF token */
	r = sysfs_write(vf1, "vfbroker_token", "\n");
	check(r == 0, "clear VF1's token with an empty line (%s)", errname(-r));
	r = try_open(vf1, PF_TOKEN);
	check(r == 0, "VF1 after clearing opens with the PF token (%s)", errname(-r));
	r = try_open(vf1, T1);
	check(r == -EACCES, "VF1 after clearing refuses its old token: EACCES (%s)", errname(-r));
	r = try_open(vf0, PF_TOKEN);
	check(r == -EACCES, "VF0 (token still set) still refuses the PF token: EACCES (%s)", errname(-r));
	r = sysfs_write(vf0, "vfbroker_token", "\n");
	check(r == 0, "clear VF0's token with an empty line (%s)", errname(-r));
	r = try_open(vf0, PF_TOKEN);
	check(r == 0, "VF0 after clearing opens with the PF token (%s)", errname(-r));

	/* a token change affects later opens only: an open fd keeps working */
	{
		struct vfio_device_info info = { .argsz = sizeof(info) };
		int a;

		sysfs_write(vf0, "vfbroker_token", T0);
		a = device_open(vf0, T0);
		r = sysfs_write(vf0, "vfbroker_token", T1);
		check(a >= 0 && r == 0 && try_open(vf0, T0) == -EACCES && try_open(vf0, T1) == 0 &&
		      ioctl(a, VFIO_DEVICE_GET_INFO, &info) == 0,
		      "changing VF0's token while it is open: later opens need the new one, the open fd keeps working");
		if (a >= 0)
			close(a);
	}

	/* rotation: a new token replaces the old one */
	sysfs_write(vf0, "vfbroker_token", T0);
	r = sysfs_write(vf0, "vfbroker_token", T1);
	check(r == 0 && try_open(vf0, T0) == -EACCES && try_open(vf0, T1) == 0,
	      "rotating VF0's token: the new one opens, the old one gets EACCES");
	sysfs_write(vf0, "vfbroker_token", "\n");

	group_detach(group_of(vf0));
	group_detach(group_of(vf1));
	close(pf_fd);
	group_detach(group_of(pf));
	r = sysfs_write(pf, "sriov_numvfs", "0");
	check(r == 0, "%s: sriov_numvfs=0 (%s)", pf, errname(-r));
	return n_failed ? 1 : 0;
}

/* --- revocation -------------------------------------------------------------------- */

static int send_fds(int sock, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))] = { 0 };
	char x = 'f';
	struct iovec iov = { &x, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	return sendmsg(sock, &m, 0) < 0 ? -errno : 0;
}

static int recv_fds(int sock, int *fds, int n)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	char x;
	struct iovec iov = { &x, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	if (recvmsg(sock, &m, 0) < 1)
		return -EIO;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -EIO;
	memcpy(fds, CMSG_DATA(c), n * sizeof(int));
	return 0;
}

static int wait_byte(int sock, int timeout_ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char b;

	if (poll(&p, 1, timeout_ms) != 1 || read(sock, &b, 1) != 1)
		return -ETIMEDOUT;
	return b;
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/* 1 if reading p raised SIGBUS, 0 if it read, *ret_val the value */
static int touch(volatile uint32_t *p, uint32_t *ret_val)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	int bus = 0;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1) == 0)
		*ret_val = *p;
	else
		bus = 1;
	sigaction(SIGBUS, &old, NULL);
	return bus;
}

/* MSI-X vector 0 to an eventfd: interrupt setup a revocation must survive */
static int enable_msix(int dev)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	struct {
		struct vfio_irq_set s;
		int32_t fd;
	} irq = { .s = { .argsz = sizeof(irq), .index = VFIO_PCI_MSIX_IRQ_INDEX, .start = 0, .count = 1,
			 .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER } };

	if (ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0)
		return -errno;
	if (ii.count == 0)
		return -ENOTSUP;
	irq.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (irq.fd < 0)
		return -errno;
	return ioctl(dev, VFIO_DEVICE_SET_IRQS, &irq) < 0 ? -errno : 0;
}

/*
 * Reads config space and the BAR mapping without pause until the device
 * goes away under it: 0 once a read gets ENODEV or the mapping SIGBUS,
 * 1 on any other error or if nothing happened within 60 s.
 */
static int hammer_loop(int dev, uint64_t cfg_offset, volatile uint32_t *map)
{
	double end = now() + 60;
	uint32_t v;
	uint16_t id;

	while (now() < end) {
		if (pread(dev, &id, 2, cfg_offset) < 0)
			return errno == ENODEV ? 0 : 1;
		if (map != MAP_FAILED && touch(map, &v))
			return 0;
	}
	return 1;
}

/*
 * The holder: uid 65534 with the VF's device fd and the container fd, as the
 * broker hands them out. Sets up everything a revocation has to take away,
 * says 'R' (ready), waits for 'V' (revoked), then checks what is left.
 */
static int holder(int sock)
{
	struct vfio_region_info cfg = { .argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct {
		struct vfio_irq_set s;
		int32_t fd;
	} irq = { .s = { .argsz = sizeof(irq), .index = VFIO_PCI_REQ_IRQ_INDEX, .start = 0, .count = 1,
			 .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER } };
	struct vfio_iommu_type1_dma_map dm = { .argsz = sizeof(dm),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, .iova = DMA_IOVA, .size = 4096 };
	volatile uint32_t *map = MAP_FAILED;
	uint64_t events = 0;
	uint16_t id = 0;
	uint32_t v = 0;
	int fds[2], dev, cont, efd, r, st;
	void *buf, *m2;
	pid_t hammer;

	if (drop_privileges() < 0 || recv_fds(sock, fds, 2) < 0)
		return 2;
	dev = fds[0];
	cont = fds[1];

	/* before: everything works for the unprivileged holder */
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	irq.fd = efd;
	r = ioctl(dev, VFIO_DEVICE_SET_IRQS, &irq);
	check(r == 0, "holder (uid %d): request eventfd registered (%s)", getuid(), errname(r ? errno : 0));
	r = ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg) | ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar);
	check(r == 0 && bar.size && (bar.flags & VFIO_REGION_INFO_FLAG_MMAP),
	      "holder: BAR0 is mmappable (size 0x%llx, %s)", (unsigned long long)bar.size, errname(r ? errno : 0));
	if (r == 0 && bar.size) {
		map = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, bar.offset);
		check(map != MAP_FAILED, "holder: mmap BAR0 (%s)", errname(map == MAP_FAILED ? errno : 0));
	}
	if (map != MAP_FAILED) {
		int bus = touch(map, &v);

		check(!bus, "holder: reading the BAR0 mapping works before revocation (0x%08x)", v);
	}
	buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dm.vaddr = (uintptr_t)buf;
	r = ioctl(cont, VFIO_IOMMU_MAP_DMA, &dm);
	check(r == 0, "holder: VFIO_IOMMU_MAP_DMA of one page at iova 0x%llx (%s)", DMA_IOVA, errname(r ? errno : 0));
	r = pread(dev, &id, 2, cfg.offset);
	check(r == 2 && id != 0xffff, "holder: config space reads (vendor 0x%04x)", id);
	r = enable_msix(dev);
	check(r == 0, "holder: MSI-X vector 0 wired to an eventfd (%s)", errname(-r));

	/* a second process of the holder keeps the device busy across the revocation */
	hammer = fork();
	if (hammer == 0)
		_exit(hammer_loop(dev, cfg.offset, map));

	if (write(sock, "R", 1) != 1 || wait_byte(sock, 60000) != 'V')
		return 2;
	waitpid(hammer, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "revoked: a process busy reading config space and the BAR mapping in a loop stopped with ENODEV/SIGBUS (exit %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	/* after: every fd operation is refused, the mapping is gone, the eventfd fired */
	r = ioctl(dev, VFIO_DEVICE_GET_INFO, &info);
	check(r < 0 && errno == ENODEV, "revoked: VFIO_DEVICE_GET_INFO fails with ENODEV (%s)", errname(r ? errno : 0));
	r = ioctl(dev, VFIO_DEVICE_RESET);
	check(r < 0 && errno == ENODEV, "revoked: VFIO_DEVICE_RESET fails with ENODEV (%s)", errname(r ? errno : 0));
	r = ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar);
	check(r < 0 && errno == ENODEV, "revoked: VFIO_DEVICE_GET_REGION_INFO fails with ENODEV (%s)", errname(r ? errno : 0));
	{
		struct vfio_device_feature f = { .argsz = sizeof(f),
			.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT };

		r = ioctl(dev, VFIO_DEVICE_FEATURE, &f);
		check(r < 0 && errno == ENODEV, "revoked: VFIO_DEVICE_FEATURE (low power exit) fails with ENODEV (%s)",
		      errname(r ? errno : 0));
	}
	r = pread(dev, &id, 2, cfg.offset);
	check(r < 0 && errno == ENODEV, "revoked: read() fails with ENODEV (%s)", errname(r < 0 ? errno : 0));
	r = pwrite(dev, &id, 2, cfg.offset);
	check(r < 0 && errno == ENODEV, "revoked: write() fails with ENODEV (%s)", errname(r < 0 ? errno : 0));
	m2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, dev, bar.offset);
	check(m2 == MAP_FAILED && errno == ENODEV, "revoked: a new mmap() fails with ENODEV (%s)",
	      errname(m2 == MAP_FAILED ? errno : 0));
	if (map != MAP_FAILED) {
		int bus = touch(map, &v);

		check(bus, "revoked: touching the old BAR0 mapping raises SIGBUS (caught)%s", bus ? "" : " # it read a value");
		bus = touch(map, &v);
		check(bus, "revoked: and again on a second touch");
	}
	r = read(efd, &events, sizeof(events));
	check(r == 8 && events >= 1, "revoked: the request eventfd fired (count %llu)", (unsigned long long)events);
	/* the container is the holder's, not the device's: its DMA map stays until it closes */
	{
		struct vfio_iommu_type1_dma_unmap du = { .argsz = sizeof(du), .iova = DMA_IOVA, .size = 4096 };

		r = ioctl(cont, VFIO_IOMMU_UNMAP_DMA, &du);
		printf("# holder: VFIO_IOMMU_UNMAP_DMA on its own container after revocation: %s\n", errname(r ? errno : 0));
	}
	if (map != MAP_FAILED)
		munmap((void *)map, bar.size);
	close(efd);
	close(dev);
	close(cont);
	return n_failed ? 1 : 0;
}

static int run_revoke(const char *pf)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	char vf0[32], vf1[32];
	int sv[2], fds[2], dev, r, st, g;
	double t;
	pid_t pid;

	if (container_open() < 0) {
		check(false, "open /dev/vfio/vfio (%s)", errname(errno));
		return 1;
	}
	if (sriov_enable(pf, vf0, vf1) < 0)
		return 1;
	g = group_of(vf0);
	r = sysfs_write(vf0, "vfbroker_token", T0);
	check(r == 0, "set VF0's token (%s)", errname(-r));

	r = sysfs_write(vf0, "vfbroker_revoke", "1");
	check(r == 0, "revoking a VF nobody holds is a no-op that succeeds (%s)", errname(-r));
	r = sysfs_write(vf0, "vfbroker_revoke", "0");
	check(r == -EINVAL, "writing 0 to vfbroker_revoke: EINVAL (%s)", errname(-r));

	dev = device_open(vf0, T0);
	check(dev >= 0, "broker side: open VF0 %s with its token (%s)", vf0, errname(dev < 0 ? -dev : 0));
	if (dev < 0)
		return 1;

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(holder(sv[1]));
	}
	close(sv[1]);
	fds[0] = dev;
	fds[1] = container;
	r = send_fds(sv[0], fds, 2);
	check(r == 0, "hand VF0's device fd and the container fd to the uid 65534 holder (%s)", errname(-r));
	/* the broker keeps nothing: only the holder has the VF open now */
	close(dev);
	group_detach(g);
	close(container);
	container = -1;

	if (wait_byte(sv[0], 60000) != 'R') {
		check(false, "holder got ready");
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return 1;
	}
	r = try_open(vf0, T0);
	printf("# while held: opening VF0's group again gives %s (the holder's fds keep it busy)\n", errname(-r));

	t = now();
	r = sysfs_write(vf0, "vfbroker_revoke", "1");
	t = now() - t;
	check(r == 0, "root writes 1 to VF0's vfbroker_revoke while the holder has it (%s)", errname(-r));
	check(t < 5.0, "revocation returned without waiting for the holder (%.3f s)", t);
	r = sysfs_write(vf0, "vfbroker_revoke", "1");
	check(r == 0, "revoking it again while the holder still has it is a no-op (%s)", errname(-r));
	r = pci_command(vf0);
	check(r >= 0 && !(r & 0x4), "revoked: bus mastering is off in the VF's command register (0x%04x)", r);
	if (write(sv[0], "V", 1) != 1)
		check(false, "tell the holder");

	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "holder checks passed and it closed its fds (exit %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(sv[0]);

	/* back to usable once the last fd is gone */
	if (container_open() < 0)
		return 1;
	dev = device_open(vf0, T0);
	check(dev >= 0, "after the holder closed, VF0 opens again with its token (%s)", errname(dev < 0 ? -dev : 0));
	if (dev >= 0) {
		r = ioctl(dev, VFIO_DEVICE_GET_INFO, &info);
		check(r == 0, "the re-opened VF0 is not revoked: VFIO_DEVICE_GET_INFO works (%s)", errname(r ? errno : 0));
		r = ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar);
		if (r == 0 && bar.size) {
			void *m = mmap(NULL, bar.size, PROT_READ, MAP_SHARED, dev, bar.offset);
			uint32_t v = 0;

			check(m != MAP_FAILED && !touch(m, &v), "the re-opened VF0's BAR0 maps and reads without SIGBUS (0x%08x)", v);
			if (m != MAP_FAILED)
				munmap(m, bar.size);
		} else {
			check(false, "GET_REGION_INFO(BAR0) on the re-opened VF0 (%s)", errname(r ? errno : 0));
		}
		close(dev);
	}
	group_detach(g);
	sysfs_write(vf0, "vfbroker_token", "\n");
	r = sysfs_write(pf, "sriov_numvfs", "0");
	check(r == 0, "%s: sriov_numvfs=0 (%s)", pf, errname(-r));
	return n_failed ? 1 : 0;
}

/* --- revocation racing with the last close -------------------------------------------- */

#define RACE_ROUNDS 30

static int run_race(const char *pf)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	char vf0[32], vf1[32];
	int bad = 0, hung = 0, r, st;
	double t0 = now();

	if (container_open() < 0 || sriov_enable(pf, vf0, vf1) < 0)
		return 1;
	sysfs_write(vf0, "vfbroker_token", T0);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		int fd = device_open(vf0, T0);
		pid_t pid;

		if (fd < 0) {
			printf("# round %d: open: %s\n", i, errname(-fd));
			bad++;
			continue;
		}
		pid = fork();
		if (pid == 0) {
			/* the inherited copy would make the parent's close not the last */
			close(fd);
			alarm(20);
			usleep((i % 2 ? 50000 : 0) + (i * 331) % 4000);
			_exit(sysfs_write(vf0, "vfbroker_revoke", "1") == 0 ? 0 : 1);
		}
		/* even rounds: close while the revocation runs, odd: close first */
		usleep((i % 2 ? 0 : 30000) + (i * 757) % 4000);
		close(fd);
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("# round %d: revoke writer %s\n", i, WIFEXITED(st) ? "failed" : "hung (killed)");
			hung += !WIFEXITED(st);
			bad++;
		}
		/* whichever won, the next open must get a working device */
		fd = device_open(vf0, T0);
		r = fd >= 0 ? ioctl(fd, VFIO_DEVICE_GET_INFO, &info) : -1;
		if (r < 0) {
			printf("# round %d: re-open/GET_INFO after the race: %s\n", i, errname(errno));
			bad++;
		}
		if (fd >= 0)
			close(fd);
	}
	check(bad == 0 && hung == 0,
	      "revocation racing with the last close, %d rounds: no hang, the VF works after every round (%.1f s)",
	      RACE_ROUNDS, now() - t0);
	group_detach(group_of(vf0));
	sysfs_write(vf0, "vfbroker_token", "\n");
	r = sysfs_write(pf, "sriov_numvfs", "0");
	check(r == 0, "%s: sriov_numvfs=0 (%s)", pf, errname(-r));
	return n_failed ? 1 : 0;
}

/* --- holder for the module-unload checks ------------------------------------------------ */

static int run_hold(const char *vf, const char *token, const char *ready)
{
	int dev, fd;

	if (container_open() < 0)
		return 2;
	dev = device_open(vf, token);
	if (dev < 0) {
		fprintf(stderr, "hold: open %s: %s\n", vf, errname(-dev));
		return 1;
	}
	fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "tokens"))
		return run_tokens(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "revoke"))
		return run_revoke(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "race"))
		return run_race(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "hold"))
		return run_hold(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: kmodtest tokens PF | revoke PF | race PF | hold VF TOKEN READY-FILE\n");
	return 2;
}
