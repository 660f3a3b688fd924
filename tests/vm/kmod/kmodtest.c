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
 *   kmodtest ioeventfd PF-BDF (igb) ioeventfds armed before the revocation
 *                             write nothing afterwards (mailbox seen via the PF)
 *   kmodtest lowpower PF-BDF [ROUNDS]
 *                             the holder's low power with wakeup cannot give
 *                             the BAR mapping back: once held awake, then
 *                             ROUNDS (default 20) races with 4 GET_INFO threads
 *   kmodtest unbind PF-BDF    revocation through the driver's attribute while
 *                             the VF's unbind / sriov_numvfs=0 waits
 *   kmodtest cdev PF-BDF      revocation of a VF bound through its cdev and
 *                             iommufd (kernels with CONFIG_IOMMUFD only)
 *   kmodtest arm PF-BDF       vfbroker_arm / vfbroker_disarm: a bind without
 *                             a token through the armed iommufd only (6.17+
 *                             with CONFIG_IOMMUFD; elsewhere EOPNOTSUPP)
 *   kmodtest armleave VF      arm VF for an iommufd whose IOAS maps a 16 MiB
 *                             memfd, close both, exit (unload leak check:
 *                             Shmem falls only when the module lets go)
 *   kmodtest hold VF TOKEN READY-FILE
 *                             open VF with TOKEN, create READY-FILE, sleep
 *                             until killed (module unload checks)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <linux/vfio.h>
#include <poll.h>
#include <pthread.h>
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
#include <sys/utsname.h>
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

/* host interrupts vfio requested for bdf's MSI-X vectors (/proc/interrupts) */
static int msix_irqs(const char *bdf)
{
	char line[1024], want[64];
	FILE *f = fopen("/proc/interrupts", "re");
	int n = 0;

	if (!f)
		return -errno;
	snprintf(want, sizeof(want), "(%s)", bdf);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "vfio-msix") && strstr(line, want);
	fclose(f);
	return n;
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

	r = msix_irqs(vf0);
	check(r >= 1, "while held: the holder's MSI-X vector has a host interrupt (%d in /proc/interrupts)", r);
	t = now();
	r = sysfs_write(vf0, "vfbroker_revoke", "1");
	t = now() - t;
	check(r == 0, "root writes 1 to VF0's vfbroker_revoke while the holder has it (%s)", errname(-r));
	printf("# revoke write (holder busy, MSI-X and request eventfds, DMA map): %.3f ms\n", t * 1e3);
	check(t < 5.0, "revocation returned without waiting for the holder (%.3f s)", t);
	r = msix_irqs(vf0);
	check(r == 0, "revoked: the holder's MSI-X trigger is torn down, no host interrupt left (%d in /proc/interrupts)", r);
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

/* --- shared by the checks of issue-style holders ----------------------------------------- */

#define DRV_DIR "/sys/bus/pci/drivers/vfbroker_vfio_pci"

/* the VF a holder of start_holder() has, for its own checks */
static char held_vf[32];

static int path_write(const char *path, const char *val)
{
	ssize_t n;
	int fd, e;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}

static int path_read(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return 0;
}

/* write 1 to VF's own attribute, or VF's address to the driver's; prints the time */
static int revoke_timed(const char *vf, bool via_driver, const char *what)
{
	double t = now();
	int r;

	if (via_driver) {
		char val[40];

		snprintf(val, sizeof(val), "%s\n", vf);
		r = path_write(DRV_DIR "/vfbroker_revoke", val);
	} else {
		r = sysfs_write(vf, "vfbroker_revoke", "1");
	}
	t = now() - t;
	printf("# revoke write (%s, %s): %.3f ms, %s\n", what,
	       via_driver ? "driver attribute" : "VF attribute", t * 1e3, errname(-r));
	return r;
}

/*
 * The PF, opened by root through its own container with the PF token (set
 * by this open while no VF is in use): the window on the igb VFs' mailbox
 * memory, which the PF sees at BAR0 + 0x800 + 0x40 * VF index.
 */
struct pf_handle {
	int container, group, dev;
	uint64_t bar0, cfg;
};

static int pf_open(const char *pf, struct pf_handle *h)
{
	struct vfio_region_info cfg = { .argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64], name[128];
	uint16_t cmd;

	h->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group_of(pf));
	h->group = open(path, O_RDWR | O_CLOEXEC);
	if (h->container < 0 || h->group < 0 || ioctl(h->group, VFIO_GROUP_GET_STATUS, &st) < 0 ||
	    ioctl(h->group, VFIO_GROUP_SET_CONTAINER, &h->container) < 0 ||
	    ioctl(h->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		return -errno;
	snprintf(name, sizeof(name), "%s vf_token=%s", pf, PF_TOKEN);
	h->dev = ioctl(h->group, VFIO_GROUP_GET_DEVICE_FD, name);
	if (h->dev < 0 || ioctl(h->dev, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0 ||
	    ioctl(h->dev, VFIO_DEVICE_GET_REGION_INFO, &bar) < 0)
		return -errno;
	h->bar0 = bar.offset;
	h->cfg = cfg.offset;
	/* memory decoding on, whatever the PF's command register had */
	if (pread(h->dev, &cmd, 2, h->cfg + 4) != 2)
		return -EIO;
	cmd |= 0x2;
	if (pwrite(h->dev, &cmd, 2, h->cfg + 4) != 2)
		return -EIO;
	return 0;
}

static void pf_close(struct pf_handle *h)
{
	if (h->dev >= 0)
		close(h->dev);
	if (h->group >= 0) {
		ioctl(h->group, VFIO_GROUP_UNSET_CONTAINER);
		close(h->group);
	}
	if (h->container >= 0)
		close(h->container);
}

static uint32_t pf_peek(struct pf_handle *h, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	if (pread(h->dev, &v, 4, h->bar0 + off) != 4)
		return 0xdeadbeef;
	return v;
}

static int pf_poke(struct pf_handle *h, uint64_t off, uint32_t v)
{
	return pwrite(h->dev, &v, 4, h->bar0 + off) == 4 ? 0 : -EIO;
}

/*
 * Opens VF with T0 on the broker side, forks a uid 65534 holder running
 * fn(sock, fds) with the device, container and group fds (the group too:
 * some consumers get it), keeps none of them, and waits for the holder's
 * 'R'. Returns the holder's pid, *ret_sock the broker's end.
 */
static pid_t start_holder(const char *vf, int (*fn)(int sock, const int *fds), int *ret_sock)
{
	int sv[2], fds[3], g = group_of(vf), dev, r, st;
	pid_t pid;

	if (container_open() < 0) {
		check(false, "open /dev/vfio/vfio (%s)", errname(errno));
		return -1;
	}
	dev = device_open(vf, T0);
	if (dev < 0) {
		check(false, "broker side: open %s with its token (%s)", vf, errname(-dev));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	snprintf(held_vf, sizeof(held_vf), "%s", vf);
	pid = fork();
	if (pid == 0) {
		int got[3];

		close(sv[0]);
		/* the holder's exit status counts its own checks only */
		n_failed = 0;
		if (drop_privileges() < 0 || recv_fds(sv[1], got, 3) < 0)
			_exit(2);
		_exit(fn(sv[1], got));
	}
	close(sv[1]);
	fds[0] = dev;
	fds[1] = container;
	fds[2] = group_fd[g];
	r = send_fds(sv[0], fds, 3);
	/* nothing stays with the broker; no UNSET_CONTAINER: the holder shares the group file */
	close(dev);
	close(group_fd[g]);
	group_fd[g] = 0;
	iommu_set = false;
	close(container);
	container = -1;
	if (r < 0 || wait_byte(sv[0], 60000) != 'R') {
		check(false, "holder of %s got ready", vf);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		close(sv[0]);
		return -1;
	}
	*ret_sock = sv[0];
	return pid;
}

static bool end_holder(pid_t pid, int sock, const char *what)
{
	int st;

	waitpid(pid, &st, 0);
	close(sock);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: holder checks passed and it closed its fds (exit %d)",
	      what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int region_info(int dev, int index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, ri) < 0 ? -errno : 0;
}

/* --- ioeventfds (issue 10, finding 1) --------------------------------------------------- */

#define MBX_OFF 0x800
#define IOEV_A 0x2222c0deU
#define IOEV_B 0x3333c0deU

static int ioeventfd_set(int dev, uint64_t offset, uint32_t data, int fd)
{
	struct vfio_device_ioeventfd e = { .argsz = sizeof(e), .flags = VFIO_DEVICE_IOEVENTFD_32,
					   .offset = offset, .data = data, .fd = fd };

	return ioctl(dev, VFIO_DEVICE_IOEVENTFD, &e) < 0 ? -errno : 0;
}

static void kick(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, 8) != 8)
		printf("# eventfd write: %s\n", errname(errno));
}

/* 6.19+ (7.3 here): a dma-buf of BAR0, for P2P importers; fd or -errno */
#ifndef VFIO_DEVICE_FEATURE_DMA_BUF
#define VFIO_DEVICE_FEATURE_DMA_BUF 11
#endif
static int bar0_dmabuf(int dev, uint64_t size)
{
	struct {
		struct vfio_device_feature f;
		uint32_t region_index, open_flags, flags, nr_ranges;
		uint64_t offset, length;
	} a = { .f = { .argsz = sizeof(a), .flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF },
		.region_index = VFIO_PCI_BAR0_REGION_INDEX, .open_flags = O_RDWR | O_CLOEXEC,
		.nr_ranges = 1, .length = size };
	int r = ioctl(dev, VFIO_DEVICE_FEATURE, &a);

	return r < 0 ? -errno : r;
}

/* a feature vfio's core handles itself (migration, DMA logging): -errno of a GET/SET probe */
static int core_feature(int dev, uint32_t feature, uint32_t op)
{
	struct vfio_device_feature f = { .argsz = sizeof(f), .flags = op | feature };

	return ioctl(dev, VFIO_DEVICE_FEATURE, &f) < 0 ? -errno : 0;
}

static int holder_ioeventfd(int sock, const int *fds)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_INTX_IRQ_INDEX };
	struct vfio_region_info bar;
	int dev = fds[0], group = fds[2], a, b, r;
	char name[128];

	r = region_info(dev, VFIO_PCI_BAR0_REGION_INDEX, &bar);
	a = eventfd(0, EFD_CLOEXEC);
	b = eventfd(0, EFD_CLOEXEC);
	if (r < 0 || a < 0 || b < 0)
		return 2;
	r = ioeventfd_set(dev, bar.offset + MBX_OFF, IOEV_A, a);
	check(r == 0, "holder: VFIO_DEVICE_IOEVENTFD on BAR0+0x%x, data 0x%08x (%s)", MBX_OFF, IOEV_A, errname(-r));
	r = ioeventfd_set(dev, bar.offset + MBX_OFF, IOEV_B, b);
	check(r == 0, "holder: a second one, data 0x%08x (%s)", IOEV_B, errname(-r));
	/* a VF has no INTx (vfio-pci-core zeroes its interrupt pin): no INTx trigger or unmask eventfd */
	r = ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii);
	check(r == 0 && ii.count == 0, "holder: the VF has no INTx, so no INTx unmask eventfd can reach it (count %u)",
	      r == 0 ? ii.count : 99);
	/* 6.19+ offers dma-bufs of BARs only to drivers with pci_ops->get_dmabuf_phys; this one has none */
	r = bar0_dmabuf(dev, bar.size);
	check(r == -EOPNOTSUPP || r == -ENOTTY,
	      "holder: no dma-buf of BAR0 can be made, before any revocation (%s)", r >= 0 ? "created one" : errname(-r));
	if (r >= 0)
		close(r);
	kick(a);
	if (write(sock, "R", 1) != 1 || wait_byte(sock, 60000) != 'V')
		return 2;
	r = bar0_dmabuf(dev, bar.size);
	check(r == -ENODEV, "revoked: VFIO_DEVICE_FEATURE_DMA_BUF fails with ENODEV (%s)", errname(r < 0 ? -r : 0));
	{
		int m = core_feature(dev, VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_GET);
		int l = core_feature(dev, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_SET);

		/* vfio's core answers these itself, without the driver: the driver has neither */
		check(m == -ENOTTY && l == -ENOTTY,
		      "revoked: migration and DMA logging do not exist on this driver (%s, %s)", errname(-m), errname(-l));
	}

	kick(b);
	kick(a);
	usleep(300 * 1000);
	r = ioeventfd_set(dev, bar.offset + MBX_OFF, 0x4444c0de, a);
	check(r == -ENODEV, "revoked: a new VFIO_DEVICE_IOEVENTFD fails with ENODEV (%s)", errname(-r));
	/* the holder has the group: a new device fd of the revoked VF is refused at the name match */
	snprintf(name, sizeof(name), "%s vf_token=%s", held_vf, T0);
	r = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name);
	check(r < 0 && errno == ENODEV, "revoked: VFIO_GROUP_GET_DEVICE_FD on the holder's group fails with ENODEV (%s)",
	      errname(r < 0 ? errno : 0));
	if (r >= 0)
		close(r);
	if (write(sock, "F", 1) != 1)
		return 2;
	if (wait_byte(sock, 60000) != 'G')
		return 2;
	close(a);
	close(b);
	close(dev);
	close(fds[1]);
	close(group);
	return n_failed ? 1 : 0;
}

static int run_ioeventfd(const char *pf)
{
	struct pf_handle h = { .container = -1, .group = -1, .dev = -1 };
	char vf0[32], vf1[32];
	int sock = -1, r;
	uint32_t v;
	pid_t pid;

	r = pf_open(pf, &h);
	check(r == 0, "%s: root opens the PF with the PF token, to see the VFs' mailboxes (%s)", pf, errname(-r));
	if (r < 0 || sriov_enable(pf, vf0, vf1) < 0) {
		pf_close(&h);
		return 1;
	}
	sysfs_write(vf0, "vfbroker_token", T0);
	pf_poke(&h, MBX_OFF, 0);
	pid = start_holder(vf0, holder_ioeventfd, &sock);
	if (pid < 0)
		goto out;
	usleep(200 * 1000);
	v = pf_peek(&h, MBX_OFF);
	check(v == IOEV_A, "before revocation the holder's ioeventfd writes 0x%08x into VF0's mailbox (PF BAR0+0x%x: 0x%08x)",
	      IOEV_A, MBX_OFF, v);
	r = revoke_timed(vf0, false, "two ioeventfds armed");
	check(r == 0, "root revokes VF0 (%s)", errname(-r));
	/* whatever the reset left there: a known value the ioeventfds would overwrite */
	pf_poke(&h, MBX_OFF, 0);
	if (write(sock, "V", 1) != 1 || wait_byte(sock, 60000) != 'F') {
		check(false, "holder signalled its ioeventfds after the revocation");
	} else {
		v = pf_peek(&h, MBX_OFF);
		check(v != IOEV_A && v != IOEV_B,
		      "revoked: signalling both ioeventfds writes nothing into the device (mailbox 0x%08x)", v);
		if (write(sock, "G", 1) != 1)
			check(false, "tell the holder to finish");
	}
	end_holder(pid, sock, "ioeventfd");
out:
	sysfs_write(vf0, "vfbroker_token", "\n");
	pf_close(&h);
	r = sysfs_write(pf, "sriov_numvfs", "0");
	check(r == 0, "%s: sriov_numvfs=0 (%s)", pf, errname(-r));
	return n_failed ? 1 : 0;
}

/* --- low power with wakeup (issue 10, finding 2) ------------------------------------------ */

#define LP_THREADS 4

static int lp_threads;		/* GET_INFO threads of the holder: 0 or LP_THREADS */
static bool lp_quiet;		/* race rounds: no per-round check lines */
static bool lp_plain;		/* LOW_POWER_ENTRY without a wakeup eventfd */
static volatile int lp_spin;
static int lp_dev;

static void *lp_getinfo(void *arg)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	(void)arg;
	while (__atomic_load_n(&lp_spin, __ATOMIC_RELAXED))
		ioctl(lp_dev, VFIO_DEVICE_GET_INFO, &info);
	return NULL;
}

static int low_power_with_wakeup(int dev, int efd)
{
	struct {
		struct vfio_device_feature f;
		struct vfio_device_low_power_entry_with_wakeup w;
	} a = { .f = { .argsz = sizeof(a),
		       .flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP },
		.w = { .wakeup_eventfd = efd } };

	return ioctl(dev, VFIO_DEVICE_FEATURE, &a) < 0 ? -errno : 0;
}

/* exit 0: the old BAR0 mapping raised SIGBUS after every wake-up; 1: it was served */
static int holder_lowpower(int sock, const int *fds)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info bar;
	pthread_t th[LP_THREADS];
	volatile uint32_t *map;
	uint64_t wakes = 0;
	int dev = fds[0], efd, r, bus, enodev = 0;
	uint32_t v = 0;

	if (region_info(dev, VFIO_PCI_BAR0_REGION_INDEX, &bar) < 0)
		return 2;
	map = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, bar.offset);
	if (map == MAP_FAILED || touch(map, &v))
		return 2;
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	lp_dev = dev;
	lp_spin = 1;
	for (int i = 0; i < lp_threads; i++)
		pthread_create(&th[i], NULL, lp_getinfo, NULL);
	if (lp_plain)
		r = core_feature(dev, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, VFIO_DEVICE_FEATURE_SET);
	else
		r = low_power_with_wakeup(dev, efd);
	if (!lp_quiet)
		check(r == 0, "holder: VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY%s (%s)", lp_plain ? "" : "_WITH_WAKEUP", errname(-r));
	if (r < 0)
		return 2;
	if (write(sock, "R", 1) != 1 || wait_byte(sock, 60000) != 'V')
		return 2;
	__atomic_store_n(&lp_spin, 0, __ATOMIC_RELAXED);
	for (int i = 0; i < lp_threads; i++)
		pthread_join(th[i], NULL);

	/* every ioctl wakes the device first, refused or not; give it time to sleep in between */
	for (int i = 0; i < 3; i++) {
		r = ioctl(dev, VFIO_DEVICE_GET_INFO, &info);
		enodev += r < 0 && errno == ENODEV;
		usleep(100 * 1000);
	}
	bus = touch(map, &v);
	if (read(efd, &wakes, 8) != 8)
		wakes = 0;
	if (!lp_quiet) {
		check(enodev == 3, "revoked: GET_INFO fails with ENODEV, 3 of 3 (%d)", enodev);
		check(bus, "revoked: after those wake-ups the old BAR0 mapping still raises SIGBUS%s (value 0x%08x)",
		      bus ? "" : " # served again", bus ? 0 : v);
		printf("# holder: wakeup eventfd count %llu\n", (unsigned long long)wakes);
	}
	if (!bus) {
		/* what a hostile holder would do with it */
		map[MBX_OFF / 4] = 0x5555c0de;
		printf("# round: BAR0 mapping served after revocation, read 0x%08x, wrote 0x5555c0de\n", v);
	}
	munmap((void *)map, bar.size);
	close(efd);
	close(dev);
	close(fds[1]);
	close(fds[2]);
	return bus ? (n_failed ? 1 : 0) : 1;
}

static int runtime_status(const char *vf, char *buf, size_t size)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/power/runtime_status", vf);
	return path_read(path, buf, size);
}

static int power_control(const char *vf, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/power/control", vf);
	return path_write(path, val);
}

static int run_lowpower(const char *pf, int rounds)
{
	char vf0[32], vf1[32], st[32] = "?";
	int sock, r, served = 0, lost = 0, status;
	double t0;
	pid_t pid;

	if (container_open() < 0 || sriov_enable(pf, vf0, vf1) < 0)
		return 1;
	sysfs_write(vf0, "vfbroker_token", T0);

	/*
	 * Deterministic: runtime PM forbidden while the holder enters low power,
	 * so the device stays awake with the holder's low power engaged (what the
	 * holder's GET_INFO threads do by chance), then allowed after the
	 * revocation, so the device sleeps and the next ioctl wakes it.
	 */
	r = power_control(vf0, "on");
	check(r == 0, "VF0 power/control=on: runtime suspend forbidden for now (%s)", errname(-r));
	lp_threads = 0;
	lp_quiet = false;
	pid = start_holder(vf0, holder_lowpower, &sock);
	if (pid < 0)
		goto out;
	r = revoke_timed(vf0, false, "holder in low power with wakeup, device awake");
	check(r == 0, "root revokes VF0 while the holder's low power with wakeup is engaged (%s)", errname(-r));
	r = power_control(vf0, "auto");
	for (int i = 0; i < 300 && runtime_status(vf0, st, sizeof(st)) == 0 && strcmp(st, "suspended"); i++)
		usleep(10 * 1000);
	printf("# VF0 power/control=auto (%s): runtime status %s\n", errname(-r), st);
	if (write(sock, "V", 1) != 1)
		check(false, "tell the holder");
	end_holder(pid, sock, "low power with wakeup, runtime PM held off");

	/* the same without a wakeup eventfd: the holder's low power, then the revocation's */
	r = power_control(vf0, "on");
	lp_plain = true;
	pid = start_holder(vf0, holder_lowpower, &sock);
	lp_plain = false;
	if (pid < 0)
		goto out;
	r = revoke_timed(vf0, false, "holder in low power without wakeup, device awake");
	check(r == 0, "root revokes VF0 while the holder's low power (no wakeup) is engaged (%s)", errname(-r));
	power_control(vf0, "auto");
	for (int i = 0; i < 300 && runtime_status(vf0, st, sizeof(st)) == 0 && strcmp(st, "suspended"); i++)
		usleep(10 * 1000);
	printf("# VF0 power/control=auto: runtime status %s\n", st);
	if (write(sock, "V", 1) != 1)
		check(false, "tell the holder");
	end_holder(pid, sock, "low power without wakeup, runtime PM held off");

	/* the issue's race: holder threads keep waking the device while root revokes */
	lp_threads = LP_THREADS;
	lp_quiet = true;
	t0 = now();
	for (int i = 0; i < rounds; i++) {
		pid = start_holder(vf0, holder_lowpower, &sock);
		if (pid < 0) {
			lost++;
			continue;
		}
		usleep((i * 3331) % 20000);
		r = revoke_timed(vf0, false, "holder in low power with wakeup, 4 threads in GET_INFO");
		if (r < 0)
			lost++;
		if (write(sock, "V", 1) != 1)
			lost++;
		waitpid(pid, &status, 0);
		close(sock);
		if (!WIFEXITED(status) || WEXITSTATUS(status) == 2)
			lost++;
		else if (WEXITSTATUS(status) == 1)
			served++;
	}
	check(served == 0 && lost == 0,
	      "low power with wakeup racing with revocation (%d threads in GET_INFO), %d rounds: the BAR mapping was served again in %d, %d rounds broken (%.1f s)",
	      LP_THREADS, rounds, served, lost, now() - t0);
out:
	power_control(vf0, "auto");
	sysfs_write(vf0, "vfbroker_token", "\n");
	r = sysfs_write(pf, "sriov_numvfs", "0");
	check(r == 0, "%s: sriov_numvfs=0 (%s)", pf, errname(-r));
	return n_failed ? 1 : 0;
}

/* --- revocation while an unbind waits (issue 10, finding 3) ------------------------------ */

static int holder_plain(int sock, const int *fds)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info bar;
	volatile uint32_t *map;
	int dev = fds[0], r, bus;
	uint32_t v = 0;

	if (region_info(dev, VFIO_PCI_BAR0_REGION_INDEX, &bar) < 0)
		return 2;
	map = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, bar.offset);
	if (map == MAP_FAILED || touch(map, &v))
		return 2;
	if (write(sock, "R", 1) != 1 || wait_byte(sock, 120000) != 'V')
		return 2;
	r = ioctl(dev, VFIO_DEVICE_GET_INFO, &info);
	check(r < 0 && errno == ENODEV, "revoked: VFIO_DEVICE_GET_INFO fails with ENODEV (%s)", errname(r < 0 ? errno : 0));
	bus = touch(map, &v);
	check(bus, "revoked: the old BAR0 mapping raises SIGBUS%s", bus ? "" : " # it read a value");
	munmap((void *)map, bar.size);
	close(dev);
	close(fds[1]);
	close(fds[2]);
	return n_failed ? 1 : 0;
}

static int drv_link(const char *bdf, char *buf, size_t size)
{
	char path[256], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(buf, size, "none");
		return -errno;
	}
	link[n] = 0;
	snprintf(buf, size, "%s", basename(link));
	return 0;
}

/* fork a writer of val to path that may block; returns its pid */
static pid_t blocking_write(const char *path, const char *val)
{
	pid_t pid = fork();

	if (pid == 0) {
		alarm(120);
		_exit(path_write(path, val) == 0 ? 0 : 1);
	}
	return pid;
}

/* true once vf's vfbroker_revoke is gone and the writer is still waiting */
static bool wait_pending(const char *vf, pid_t writer)
{
	int st;

	for (int i = 0; i < 2000; i++) {
		if (waitpid(writer, &st, WNOHANG) == writer) {
			printf("# the writer returned without waiting (exit %d)\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			return false;
		}
		if (!exists(vf, "vfbroker_revoke"))
			return true;
		usleep(10 * 1000);
	}
	return false;
}

static int run_unbind(const char *pf)
{
	char vf0[32], vf1[32], path[256], drv[64];
	int sock, r, st;
	pid_t pid, writer;

	if (container_open() < 0 || sriov_enable(pf, vf0, vf1) < 0)
		return 1;
	r = path_write(DRV_DIR "/vfbroker_revoke", pf);
	check(r == -EINVAL, "the driver's vfbroker_revoke refuses a PF: EINVAL (%s)", errname(-r));
	r = path_write(DRV_DIR "/vfbroker_revoke", "0000:7f:1f.7");
	check(r == -ENODEV, "the driver's vfbroker_revoke refuses a device it does not drive: ENODEV (%s)", errname(-r));
	r = revoke_timed(vf0, true, "nobody holds it");
	check(r == 0, "revoking through the driver's attribute a VF nobody holds is a no-op (%s)", errname(-r));

	/* 1: the VF's own unbind */
	sysfs_write(vf0, "vfbroker_token", T0);
	pid = start_holder(vf0, holder_plain, &sock);
	if (pid < 0)
		goto out;
	writer = blocking_write(DRV_DIR "/unbind", vf0);
	check(wait_pending(vf0, writer), "unbinding VF0 waits for the holder: VF0's own attributes are gone already");
	r = sysfs_write(vf0, "vfbroker_revoke", "1");
	printf("# VF0's own vfbroker_revoke meanwhile: %s\n", errname(-r));
	r = revoke_timed(vf0, true, "unbind pending");
	check(r == 0, "while the unbind waits, root revokes VF0 through the driver's vfbroker_revoke (%s)", errname(-r));
	if (write(sock, "V", 1) != 1)
		check(false, "tell the holder");
	end_holder(pid, sock, "unbind pending");
	waitpid(writer, &st, 0);
	drv_link(vf0, drv, sizeof(drv));
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(drv, "none"),
	      "the unbind returned once the holder closed (exit %d, driver %s)", WIFEXITED(st) ? WEXITSTATUS(st) : -1, drv);
	r = path_write("/sys/bus/pci/drivers_probe", vf0);
	drv_link(vf0, drv, sizeof(drv));
	check(r == 0 && !strcmp(drv, "vfbroker_vfio_pci"), "VF0 binds again (%s, driver %s)", errname(-r), drv);

	/* 2: sriov_numvfs=0 on the PF */
	sysfs_write(vf0, "vfbroker_token", T0);
	pid = start_holder(vf0, holder_plain, &sock);
	if (pid < 0)
		goto out;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_numvfs", pf);
	writer = blocking_write(path, "0");
	check(wait_pending(vf0, writer), "sriov_numvfs=0 waits for VF0's holder: VF0's own attributes are gone already");
	r = revoke_timed(vf0, true, "sriov_numvfs=0 pending");
	check(r == 0, "while sriov_numvfs=0 waits, root revokes VF0 through the driver's vfbroker_revoke (%s)", errname(-r));
	if (write(sock, "V", 1) != 1)
		check(false, "tell the holder");
	end_holder(pid, sock, "sriov_numvfs=0 pending");
	waitpid(writer, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0 && vf_bdf(pf, 0, vf1) < 0,
	      "sriov_numvfs=0 returned once the holder closed and the VFs are gone (exit %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return n_failed ? 1 : 0;
out:
	r = sysfs_write(pf, "sriov_numvfs", "0");
	check(r == 0, "%s: sriov_numvfs=0 (%s)", pf, errname(-r));
	return n_failed ? 1 : 0;
}


/* --- cdev and iommufd (only where /dev/vfio/devices exists) -------------------------------- */

/* the uapi of 6.6+ and 6.17+ (the host's headers may be older) */
struct cdev_bind {
	uint32_t argsz, flags;
	int32_t iommufd;
	uint32_t out_devid;
	uint64_t token_uuid_ptr;
};
#define CDEV_BIND_FLAG_TOKEN (1 << 0)
#define CDEV_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
struct cdev_attach_pt {
	uint32_t argsz, flags, pt_id, pasid;
};
#define CDEV_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
struct iommufd_ioas_alloc {
	uint32_t size, flags, out_ioas_id;
};
#define IOMMUFD_IOAS_ALLOC _IO(';', 0x81)

static int ioas_alloc(int iommufd, uint32_t *ret_id)
{
	struct iommufd_ioas_alloc a = { .size = sizeof(a) };

	if (ioctl(iommufd, IOMMUFD_IOAS_ALLOC, &a) < 0)
		return -errno;
	*ret_id = a.out_ioas_id;
	return 0;
}

static int attach_pt(int dev, uint32_t pt)
{
	struct cdev_attach_pt a = { .argsz = sizeof(a), .pt_id = pt };

	return ioctl(dev, CDEV_ATTACH_IOMMUFD_PT, &a) < 0 ? -errno : 0;
}

/* /dev/vfio/devices/vfioN of bdf, opened; -errno */
static int cdev_open(const char *bdf)
{
	char path[320];
	struct dirent *e;
	DIR *d;
	int fd = -ENOENT;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vfio", 4)) {
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s", e->d_name);
			fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd < 0)
				fd = -errno;
			break;
		}
	closedir(d);
	return fd;
}

static int cdev_bind(int dev, int iommufd, const char *token)
{
	uint8_t uuid[16];
	struct cdev_bind b = { .argsz = sizeof(b), .iommufd = iommufd };

	if (token) {
		if (parse_uuid(token, uuid) < 0)
			return -EINVAL;
		b.flags = CDEV_BIND_FLAG_TOKEN;
		b.token_uuid_ptr = (uintptr_t)uuid;
	}
	return ioctl(dev, CDEV_BIND_IOMMUFD, &b) < 0 ? -errno : 0;
}

static int holder_cdev(int sock, const int *fds)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int dev = fds[0], iommufd = fds[1], r;
	uint32_t ioas2;

	r = ioas_alloc(iommufd, &ioas2);
	check(r == 0, "cdev holder: IOMMU_IOAS_ALLOC of a second IOAS (%s)", errname(-r));
	r = attach_pt(dev, ioas2);
	check(r == 0, "cdev holder: VFIO_DEVICE_ATTACH_IOMMUFD_PT to it works before the revocation (%s)", errname(-r));
	if (write(sock, "R", 1) != 1 || wait_byte(sock, 60000) != 'V')
		return 2;
	r = ioctl(dev, VFIO_DEVICE_GET_INFO, &info);
	check(r < 0 && errno == ENODEV, "revoked (cdev): VFIO_DEVICE_GET_INFO fails with ENODEV (%s)", errname(r < 0 ? errno : 0));
	r = ioas_alloc(iommufd, &ioas2);
	if (r == 0)
		r = attach_pt(dev, ioas2);
	check(r == -ENODEV, "revoked (cdev): VFIO_DEVICE_ATTACH_IOMMUFD_PT to a new IOAS fails with ENODEV (%s)", errname(-r));
	close(dev);
	close(iommufd);
	return n_failed ? 1 : 0;
}

struct iommufd_ioas_map {
	uint32_t size, flags, ioas_id, reserved;
	uint64_t user_va, length, iova;
};
#define IOMMUFD_IOAS_MAP _IO(';', 0x85)
struct iommufd_ioas_map_file {
	uint32_t size, flags, ioas_id;
	int32_t fd;
	uint64_t start, length, iova;
};
#define IOMMUFD_IOAS_MAP_FILE _IO(';', 0x8f)
#define IOAS_MAP_WRITEABLE (1 << 1)
#define IOAS_MAP_READABLE (1 << 2)

static int ioas_map(int iommufd, uint32_t ioas, void *buf, size_t len)
{
	struct iommufd_ioas_map m = { .size = sizeof(m), .flags = IOAS_MAP_READABLE | IOAS_MAP_WRITEABLE,
				      .ioas_id = ioas, .user_va = (uintptr_t)buf, .length = len };

	return ioctl(iommufd, IOMMUFD_IOAS_MAP, &m) < 0 ? -errno : 0;
}

/* "VF FD\n" to the driver's vfbroker_arm, "VF\n" to its vfbroker_disarm */
static int arm_write(const char *vf, int fd)
{
	char val[64];

	snprintf(val, sizeof(val), "%s %d\n", vf, fd);
	return path_write(DRV_DIR "/vfbroker_arm", val);
}

static int disarm_write(const char *vf)
{
	char val[64];

	snprintf(val, sizeof(val), "%s\n", vf);
	return path_write(DRV_DIR "/vfbroker_disarm", val);
}

/* where the module arms: iommufd present and the kernel checks tokens on bind (6.17+) */
static bool arm_supported(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (access("/dev/iommu", F_OK) < 0 || uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 17);
}

static long shmem_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Shmem: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#define MEMFD_SIZE (16u << 20)
/* Shmem must move by at least this (kB) for the memfd to count as kept or freed */
#define MEMFD_SLACK_KB 12288

/*
 * A new iommufd whose IOAS maps a filled 16 MiB memfd, the memfd's own fd
 * closed: the memfd lives exactly as long as the iommufd does (the IOAS holds
 * the file), and Shmem in /proc/meminfo shows it.
 */
static int memfd_iommufd(void)
{
	struct iommufd_ioas_map_file m = { .size = sizeof(m), .flags = IOAS_MAP_READABLE | IOAS_MAP_WRITEABLE,
					   .length = MEMFD_SIZE };
	static char chunk[1 << 16];
	int mfd, ifd, r = 0;

	memset(chunk, 0x5a, sizeof(chunk));
	mfd = memfd_create("kmodtest-arm", MFD_CLOEXEC);
	if (mfd < 0)
		return -errno;
	for (size_t off = 0; off < MEMFD_SIZE && r == 0; off += sizeof(chunk))
		if (pwrite(mfd, chunk, sizeof(chunk), off) != (ssize_t)sizeof(chunk))
			r = -EIO;
	ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (ifd < 0)
		r = r ? r : -errno;
	if (r == 0)
		r = ioas_alloc(ifd, &m.ioas_id);
	m.fd = mfd;
	if (r == 0 && ioctl(ifd, IOMMUFD_IOAS_MAP_FILE, &m) < 0)
		r = -errno;
	close(mfd);
	if (r < 0) {
		if (ifd >= 0)
			close(ifd);
		return r;
	}
	return ifd;
}

/* Shmem (kB) once it fell below limit, or the last value after 2 s */
static long shmem_wait_below(long limit)
{
	long kb = shmem_kb();

	for (int i = 0; i < 100 && kb >= limit; i++) {
		usleep(20 * 1000);
		kb = shmem_kb();
	}
	return kb;
}

/* GET_INFO works on dev: it is bound and usable */
static int dev_info(int dev)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	return ioctl(dev, VFIO_DEVICE_GET_INFO, &info) < 0 ? -errno : (int)info.num_regions;
}

/*
 * After a bind that should have been refused: if it went through, a fresh
 * unbound fd, so that the checks after it test what they say (a bound cdev
 * makes every later bind EINVAL)
 */
static void rebind_guard(int *dev, const char *vf, int r)
{
	if (r == 0) {
		close(*dev);
		*dev = cdev_open(vf);
	}
}

static int run_arm(const char *pf)
{
	char vf0[32], vf1[32];
	int a = -1, b = -1, c = -1, null = -1, d = -1, stale = -1, d1 = -1, r;
	long s0, s1, s2, s3, s4;
	uint32_t ioas;
	void *buf;

	if (sriov_enable(pf, vf0, vf1) < 0)
		return 1;
	if (!arm_supported()) {
		r = arm_write(vf0, 0);
		check(r == -EOPNOTSUPP, "no iommufd or no token check on cdev bind (< 6.17): vfbroker_arm gives EOPNOTSUPP (%s)",
		      errname(-r));
		r = disarm_write(vf0);
		check(r == -EOPNOTSUPP, "and vfbroker_disarm too (%s)", errname(-r));
		goto out;
	}
	a = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	b = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	check(a >= 0 && b >= 0 && null >= 0, "open two iommufds A and B");
	if (a < 0 || b < 0 || null < 0)
		goto out;

	/* --- what arming refuses */
	r = arm_write(vf0, null);
	check(r == -EINVAL, "arm with an fd that is not an iommufd (/dev/null): EINVAL (%s)", errname(-r));
	r = arm_write(vf0, 1000);
	check(r == -EBADF, "arm with an fd the writer does not have: EBADF (%s)", errname(-r));
	r = arm_write(pf, a);
	check(r == -ENODEV, "arm the PF: ENODEV (%s)", errname(-r));
	r = arm_write("0000:7f:1f.7", a);
	check(r == -ENODEV, "arm a device the driver does not drive: ENODEV (%s)", errname(-r));
	r = path_write(DRV_DIR "/vfbroker_arm", vf0);
	check(r == -EINVAL, "arm without an fd: EINVAL (%s)", errname(-r));
	r = disarm_write("0000:7f:1f.7");
	check(r == -ENODEV, "disarm a device the driver does not drive: ENODEV (%s)", errname(-r));
	check(mode_is("../drivers/vfbroker_vfio_pci", "vfbroker_arm", 0200) &&
	      mode_is("../drivers/vfbroker_vfio_pci", "vfbroker_disarm", 0200),
	      "vfbroker_arm and vfbroker_disarm are root-only, write-only (0200)");

	/* --- unarmed: vfio-pci's rules */
	d = cdev_open(vf0);
	r = d >= 0 ? cdev_bind(d, a, NULL) : d;
	check(r == -EACCES, "VF0 not armed: bind without a token through A: EACCES (%s)", errname(-r));
	rebind_guard(&d, vf0, r);

	/* --- armed for A */
	r = arm_write(vf0, a);
	check(r == 0, "arm VF0 for iommufd A (%s)", errname(-r));
	/* opened while armed for A, never bound: what a holder could keep from a lease */
	stale = cdev_open(vf0);
	check(stale >= 0, "open a second cdev fd of VF0 while armed for A, left unbound (%s)",
	      errname(stale < 0 ? -stale : 0));
	r = container_open();
	r = r ? r : try_open(vf0, NULL);
	check(r == -EACCES, "armed VF0: the group path without a token is still EACCES (%s)", errname(-r));
	group_detach(group_of(vf0));
	r = cdev_bind(d, b, NULL);
	check(r == -EACCES, "armed for A: bind without a token through another iommufd B: EACCES (%s)", errname(-r));
	rebind_guard(&d, vf0, r);
	r = cdev_bind(d, a, T1);
	check(r == -EACCES, "armed for A: bind with a wrong token through A: EACCES (%s)", errname(-r));
	rebind_guard(&d, vf0, r);
	d1 = cdev_open(vf1);
	r = d1 >= 0 ? cdev_bind(d1, a, NULL) : d1;
	check(r == -EACCES, "VF1, not armed: bind without a token through A (armed for VF0): EACCES (%s)", errname(-r));
	if (d1 >= 0)
		close(d1);

	/* --- re-arm replaces */
	r = arm_write(vf0, b);
	check(r == 0, "re-arm VF0 for B (%s)", errname(-r));
	r = cdev_bind(d, a, NULL);
	check(r == -EACCES, "re-armed for B: bind without a token through A: EACCES (%s)", errname(-r));
	rebind_guard(&d, vf0, r);

	/* --- a new lease: disarm, arm for B; the stale fd and A get nothing */
	r = disarm_write(vf0);
	check(r == 0, "disarm VF0 (%s)", errname(-r));
	r = cdev_bind(stale, a, NULL);
	check(r == -EACCES, "disarmed: the stale cdev fd cannot bind through A (%s)", errname(-r));
	rebind_guard(&stale, vf0, r);
	r = arm_write(vf0, b);
	check(r == 0, "arm VF0 for B (next lease) (%s)", errname(-r));
	r = cdev_bind(stale, a, NULL);
	check(r == -EACCES, "armed for B: the stale cdev fd opened under A's arm cannot bind through A: EACCES (%s)",
	      errname(-r));
	rebind_guard(&stale, vf0, r);

	/* --- the lease's own bind: no token, through B */
	r = cdev_bind(d, b, NULL);
	check(r == 0, "armed for B: bind without a token through B (%s)", errname(-r));
	r = r ? r : ioas_alloc(b, &ioas);
	check(r == 0, "IOMMU_IOAS_ALLOC on B (%s)", errname(-r));
	r = r ? r : attach_pt(d, ioas);
	check(r == 0, "VFIO_DEVICE_ATTACH_IOMMUFD_PT of VF0 to it (%s)", errname(-r));
	buf = mmap(NULL, 2u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	r = r ? r : buf == MAP_FAILED ? -ENOMEM : ioas_map(b, ioas, buf, 2u << 20);
	check(r == 0, "IOMMU_IOAS_MAP of 2 MiB (%s)", errname(-r));
	r = dev_info(d);
	check(r > 0, "VFIO_DEVICE_GET_INFO on the bound VF0 (%d regions)", r);

	/* --- disarm does not take a bound VF away */
	r = disarm_write(vf0);
	check(r == 0, "disarm VF0 while bound (%s)", errname(-r));
	r = dev_info(d);
	check(r > 0, "disarmed: the bound VF0 still answers VFIO_DEVICE_GET_INFO (%d regions)", r);
	r = buf == MAP_FAILED ? -ENOMEM : ioas_map(b, ioas, (char *)buf + (1u << 20), 4096);
	check(r == 0, "disarmed: IOMMU_IOAS_MAP still works (%s)", errname(-r));
	if (buf != MAP_FAILED)
		munmap(buf, 2u << 20);
	close(d);
	close(stale);
	stale = -1;
	d = cdev_open(vf0);
	r = d >= 0 ? cdev_bind(d, b, NULL) : d;
	check(r == -EACCES, "disarmed and closed: bind without a token through B: EACCES (%s)", errname(-r));
	rebind_guard(&d, vf0, r);

	/* --- the per-VF token binds whatever the arm */
	r = sysfs_write(vf0, "vfbroker_token", T0);
	check(r == 0, "give VF0 its own token (%s)", errname(-r));
	r = arm_write(vf0, a);
	r = r ? r : cdev_bind(d, b, T0);
	check(r == 0, "armed for A: bind with VF0's token through B works (%s)", errname(-r));
	close(d);
	d = cdev_open(vf0);
	r = d >= 0 ? cdev_bind(d, a, T1) : d;
	check(r == -EACCES, "armed for A, VF0 has its own token: a wrong token through A: EACCES (%s)", errname(-r));
	rebind_guard(&d, vf0, r);
	r = cdev_bind(d, a, NULL);
	check(r == 0, "armed for A, VF0 has its own token: no token through A binds (%s)", errname(-r));

	/* --- revocation disarms */
	r = revoke_timed(vf0, true, "armed, bound without a token");
	check(r == 0, "revoke VF0 bound through the arm (%s)", errname(-r));
	r = dev_info(d);
	check(r == -ENODEV, "revoked: VFIO_DEVICE_GET_INFO fails with ENODEV (%s)", errname(r < 0 ? -r : 0));
	close(d);
	d = cdev_open(vf0);
	r = d >= 0 ? cdev_bind(d, a, NULL) : d;
	check(r == -EACCES, "after the revocation the arm is gone: bind without a token through A: EACCES (%s)",
	      errname(-r));
	rebind_guard(&d, vf0, r);
	r = arm_write(vf0, a);
	r = r ? r : revoke_timed(vf0, true, "armed, not open");
	check(r == 0, "arm VF0 for A again, revoke it while nobody has it open (%s)", errname(-r));
	r = cdev_bind(d, a, NULL);
	check(r == -EACCES, "revoked while not open: the arm is gone too: EACCES (%s)", errname(-r));
	rebind_guard(&d, vf0, r);
	close(d);
	d = -1;
	sysfs_write(vf0, "vfbroker_token", "\n");

	/* --- the module's iommufd reference: held while armed, dropped by disarm and re-arm */
	s0 = shmem_kb();
	c = memfd_iommufd();
	check(c >= 0, "an iommufd C whose IOAS maps a 16 MiB memfd (%s)", errname(c < 0 ? -c : 0));
	if (c < 0)
		goto out;
	s1 = shmem_kb();
	r = arm_write(vf0, c);
	check(r == 0, "arm VF0 for C (%s)", errname(-r));
	close(c);
	c = -1;
	usleep(100 * 1000);
	s2 = shmem_kb();
	check(s1 - s0 >= MEMFD_SLACK_KB && s2 - s0 >= MEMFD_SLACK_KB,
	      "C closed by its opener, still armed: the module keeps it (Shmem %ld, with C %ld, closed %ld kB)", s0, s1,
	      s2);
	r = disarm_write(vf0);
	s3 = shmem_wait_below(s2 - MEMFD_SLACK_KB);
	check(r == 0 && s2 - s3 >= MEMFD_SLACK_KB, "disarm drops the module's reference: C and its memfd go (Shmem %ld -> %ld kB)",
	      s2, s3);
	c = memfd_iommufd();
	r = c >= 0 ? arm_write(vf0, c) : c;
	if (c >= 0)
		close(c);
	c = -1;
	s3 = shmem_kb();
	r = r ? r : arm_write(vf0, a);
	s4 = shmem_wait_below(s3 - MEMFD_SLACK_KB);
	check(r == 0 && s3 - s4 >= MEMFD_SLACK_KB,
	      "re-arming for A drops the reference to the iommufd armed before (Shmem %ld -> %ld kB)", s3, s4);
	r = disarm_write(vf0);
	check(r == 0, "disarm VF0 (%s)", errname(-r));
out:
	if (d >= 0)
		close(d);
	if (stale >= 0)
		close(stale);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	if (null >= 0)
		close(null);
	r = sysfs_write(pf, "sriov_numvfs", "0");
	check(r == 0, "%s: sriov_numvfs=0 (%s)", pf, errname(-r));
	return n_failed ? 1 : 0;
}

/* arm vf for a memfd-backed iommufd and leave: only the module holds it then */
static int run_armleave(const char *vf)
{
	int c = memfd_iommufd(), r;

	if (c < 0) {
		fprintf(stderr, "armleave: %s\n", errname(-c));
		return 1;
	}
	r = arm_write(vf, c);
	close(c);
	if (r < 0) {
		fprintf(stderr, "armleave: arm %s: %s\n", vf, errname(-r));
		return 1;
	}
	return 0;
}

static int run_cdev(const char *pf)
{
	char vf0[32], vf1[32];
	int sv[2], fds[2], dev, dev2, iommufd, r, st;
	uint32_t ioas;
	pid_t pid;

	if (sriov_enable(pf, vf0, vf1) < 0)
		return 1;
	sysfs_write(vf0, "vfbroker_token", T0);
	dev = cdev_open(vf0);
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	check(dev >= 0 && iommufd >= 0, "open VF0's cdev and /dev/iommu (%s, %s)", errname(dev < 0 ? -dev : 0),
	      errname(iommufd < 0 ? errno : 0));
	if (dev < 0 || iommufd < 0)
		goto out;
	r = cdev_bind(dev, iommufd, NULL);
	check(r == -EACCES, "cdev bind of VF0 without a token: EACCES (%s)", errname(-r));
	r = cdev_bind(dev, iommufd, T0);
	check(r == 0, "cdev bind of VF0 with its own token (%s)", errname(-r));
	r = r ? r : ioas_alloc(iommufd, &ioas);
	r = r ? r : attach_pt(dev, ioas);
	check(r == 0, "broker side: VF0 attached to an IOAS (%s)", errname(-r));
	if (r < 0)
		goto out;

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	pid = fork();
	if (pid == 0) {
		int got[2];

		close(sv[0]);
		n_failed = 0;
		if (drop_privileges() < 0 || recv_fds(sv[1], got, 2) < 0)
			_exit(2);
		_exit(holder_cdev(sv[1], got));
	}
	close(sv[1]);
	fds[0] = dev;
	fds[1] = iommufd;
	r = send_fds(sv[0], fds, 2);
	close(dev);
	close(iommufd);
	if (r < 0 || wait_byte(sv[0], 60000) != 'R') {
		check(false, "cdev holder got ready");
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		goto out;
	}
	r = revoke_timed(vf0, true, "cdev holder");
	check(r == 0, "root revokes the cdev-bound VF0 (%s)", errname(-r));
	/* a cdev binds only a device nobody has open: a second bind cannot revive it */
	dev2 = cdev_open(vf0);
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	r = dev2 >= 0 ? cdev_bind(dev2, iommufd, T0) : dev2;
	check(r < 0, "revoked and still held: a second cdev open cannot bind VF0 (%s)", errname(-r));
	if (dev2 >= 0)
		close(dev2);
	close(iommufd);
	if (write(sv[0], "V", 1) != 1)
		check(false, "tell the cdev holder");
	end_holder(pid, sv[0], "cdev");
out:
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
	if (argc == 3 && !strcmp(argv[1], "ioeventfd"))
		return run_ioeventfd(argv[2]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "lowpower"))
		return run_lowpower(argv[2], argc == 4 ? atoi(argv[3]) : 20);
	if (argc == 3 && !strcmp(argv[1], "unbind"))
		return run_unbind(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "cdev"))
		return run_cdev(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "arm"))
		return run_arm(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "armleave"))
		return run_armleave(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "hold"))
		return run_hold(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: kmodtest tokens PF | revoke PF | race PF | ioeventfd PF | lowpower PF [ROUNDS] | unbind PF | cdev PF | arm PF | armleave VF | hold VF TOKEN READY-FILE\n");
	return 2;
}
