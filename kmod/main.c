// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfbroker_vfio_pci: a vfio-pci variant driver that gives every SR-IOV VF its
 * own open token and lets root revoke every open fd of a VF at once.
 *
 * Everything else is vfio-pci-core, as in drivers/vfio/pci/vfio_pci.c: the
 * driver only wraps the fd operations (to refuse them after a revocation) and
 * the name match (to check the per-VF token).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>
#include <linux/sched.h>
#include <linux/srcu.h>
#include <linux/uaccess.h>
#include <linux/uuid.h>
#include <linux/version.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#include <crypto/utils.h>
#else
#include <crypto/algapi.h>
#endif

/*
 * Arming (vfbroker_arm): a bind through the VF's cdev without a VF token,
 * allowed for one iommufd. Only where the kernel checks the token on that
 * bind and asks the driver (.match_token_uuid, 6.17+) and has iommufd at
 * all; before 6.17 the cdev bind checks no token, so there is nothing to
 * lift (see README.md).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0) && IS_ENABLED(CONFIG_IOMMUFD)
#define VFB_ARM 1
#include <linux/iommufd.h>
/* iommufd_ctx_from_fd(), iommufd_ctx_put() */
MODULE_IMPORT_NS("IOMMUFD");
#endif

#define VFB_NAME "vfbroker_vfio_pci"

/* Attempts at the function reset while another path holds the device lock. */
#define VFB_RESET_TRIES 20

static bool enable_sriov;
module_param(enable_sriov, bool, 0644);
MODULE_PARM_DESC(enable_sriov, "Allow enabling SR-IOV VFs on PFs bound to this driver (default: false)");

struct vfb_device {
	struct vfio_pci_core_device core_device;

	/* Per-VF token: when set, opening the VF needs exactly this one. */
	struct mutex token_lock;
	uuid_t token;
	bool token_set;

	/*
	 * open and revoked change under the vfio device set lock (held by vfio
	 * around open_device and close_device); revoked is read locklessly by
	 * the fd operations, inside srcu.
	 */
	bool open;
	bool revoked;
	/*
	 * Every fd operation runs inside this SRCU read section, so a
	 * revocation can wait for the operations that started before it and
	 * know that none of them touches the device after the reset. One per
	 * device: an operation of another VF's holder never delays it.
	 */
	struct srcu_struct srcu;
	/* One revocation at a time per device. */
	struct mutex revoke_lock;
	/* On vfb_list while registered with vfio (see vfb_remove). */
	struct list_head node;
#ifdef VFB_ARM
	/*
	 * Under the device set lock, like open and revoked. arm_ictx: the
	 * iommufd a bind without a token must come through (a reference,
	 * held until disarm, so the pointer cannot be freed and reused by
	 * another iommufd). arm_bind: the cdev bind running now passed
	 * .match_token_uuid only because the VF is armed; .bind_iommufd,
	 * called next under the same hold of the lock, consumes it. gone:
	 * remove() has started, no more arming.
	 */
	struct iommufd_ctx *arm_ictx;
	bool arm_bind;
	bool gone;
#endif
};

/*
 * Every bound device, for the driver-level revoke attribute: a VF's own
 * attributes are removed before its unbind starts to wait for the holder,
 * the driver's stay until the module goes.
 */
static DEFINE_MUTEX(vfb_list_lock);
static LIST_HEAD(vfb_list);

static struct vfb_device *to_vfb(struct vfio_device *core_vdev)
{
	return container_of(core_vdev, struct vfb_device, core_device.vdev);
}

static struct vfb_device *dev_to_vfb(struct device *dev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(dev);

	return container_of(vdev, struct vfb_device, core_device);
}

/* --- life cycle ------------------------------------------------------------ */

static int vfb_init_dev(struct vfio_device *core_vdev)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	int ret;

	ret = init_srcu_struct(&vfb->srcu);
	if (ret)
		return ret;
	mutex_init(&vfb->token_lock);
	mutex_init(&vfb->revoke_lock);
	ret = vfio_pci_core_init_dev(core_vdev);
	if (ret)
		goto err_cleanup_srcu;
	return 0;

err_cleanup_srcu:
	mutex_destroy(&vfb->revoke_lock);
	mutex_destroy(&vfb->token_lock);
	cleanup_srcu_struct(&vfb->srcu);
	return ret;
}

static void vfb_release_dev(struct vfio_device *core_vdev)
{
	struct vfb_device *vfb = to_vfb(core_vdev);

	/*
	 * Before the core: on 6.1 vfio_pci_core_release_dev() frees the whole
	 * structure.
	 */
	mutex_destroy(&vfb->revoke_lock);
	mutex_destroy(&vfb->token_lock);
	cleanup_srcu_struct(&vfb->srcu);
	vfio_pci_core_release_dev(core_vdev);
}

static int vfb_open_device(struct vfio_device *core_vdev)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	int ret;

	ret = vfio_pci_core_enable(&vfb->core_device);
	if (ret)
		return ret;
	vfio_pci_core_finish_enable(&vfb->core_device);
	vfb->open = true;
	return 0;
}

static void vfb_close_device(struct vfio_device *core_vdev)
{
	struct vfb_device *vfb = to_vfb(core_vdev);

	/* The last fd is gone: the next tenant gets a usable VF. */
	vfb->open = false;
	WRITE_ONCE(vfb->revoked, false);
	vfio_pci_core_close_device(core_vdev);
}

/* --- fd operations: refused once revoked ------------------------------------- */

static long vfb_ioctl(struct vfio_device *core_vdev, unsigned int cmd,
		      unsigned long arg)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	long ret = -ENODEV;
	int idx;

	idx = srcu_read_lock(&vfb->srcu);
	if (!READ_ONCE(vfb->revoked))
		ret = vfio_pci_core_ioctl(core_vdev, cmd, arg);
	srcu_read_unlock(&vfb->srcu, idx);
	return ret;
}

static int vfb_device_feature(struct vfio_device *core_vdev, u32 flags,
			      void __user *arg, size_t argsz)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	int ret = -ENODEV;
	int idx;

	idx = srcu_read_lock(&vfb->srcu);
	if (!READ_ONCE(vfb->revoked))
		ret = vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
	srcu_read_unlock(&vfb->srcu, idx);
	return ret;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 19, 0)
/* From 6.19 VFIO_DEVICE_GET_REGION_INFO reaches the driver through this op. */
static int vfb_get_region_info_caps(struct vfio_device *core_vdev,
				    struct vfio_region_info *info,
				    struct vfio_info_cap *caps)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	int ret = -ENODEV;
	int idx;

	idx = srcu_read_lock(&vfb->srcu);
	if (!READ_ONCE(vfb->revoked))
		ret = vfio_pci_ioctl_get_region_info(core_vdev, info, caps);
	srcu_read_unlock(&vfb->srcu, idx);
	return ret;
}
#endif

static ssize_t vfb_read(struct vfio_device *core_vdev, char __user *buf,
			size_t count, loff_t *ppos)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	ssize_t ret = -ENODEV;
	int idx;

	idx = srcu_read_lock(&vfb->srcu);
	if (!READ_ONCE(vfb->revoked))
		ret = vfio_pci_core_read(core_vdev, buf, count, ppos);
	srcu_read_unlock(&vfb->srcu, idx);
	return ret;
}

static ssize_t vfb_write(struct vfio_device *core_vdev, const char __user *buf,
			 size_t count, loff_t *ppos)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	ssize_t ret = -ENODEV;
	int idx;

	idx = srcu_read_lock(&vfb->srcu);
	if (!READ_ONCE(vfb->revoked))
		ret = vfio_pci_core_write(core_vdev, buf, count, ppos);
	srcu_read_unlock(&vfb->srcu, idx);
	return ret;
}

static int vfb_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	int ret = -ENODEV;
	int idx;

	idx = srcu_read_lock(&vfb->srcu);
	if (!READ_ONCE(vfb->revoked))
		ret = vfio_pci_core_mmap(core_vdev, vma);
	srcu_read_unlock(&vfb->srcu, idx);
	return ret;
}

/* --- per-VF token ------------------------------------------------------------ */

static bool vfb_get_token(struct vfb_device *vfb, uuid_t *ret_token)
{
	bool set;

	mutex_lock(&vfb->token_lock);
	set = vfb->token_set;
	if (set)
		uuid_copy(ret_token, &vfb->token);
	mutex_unlock(&vfb->token_lock);
	return set;
}

static int vfb_check_token(struct vfb_device *vfb, const uuid_t *want,
			   const uuid_t *given)
{
	struct pci_dev *pdev = vfb->core_device.pdev;

	if (!given) {
		pci_info_ratelimited(pdev, "VF token required to access device\n");
		return -EACCES;
	}
	/* constant time: the token is the only secret a tenant holds */
	if (crypto_memneq(want, given, sizeof(*want))) {
		pci_info_ratelimited(pdev, "Incorrect VF token provided for device\n");
		return -EACCES;
	}
	return 0;
}

/*
 * Parses "<BDF>[ vf_token=<uuid>]" with the rules of vfio_pci_core_match():
 * 0 if the name is another device's, 1 if it is this one (*ret_has_token
 * says whether a token came with it), -EINVAL for an unknown or repeated
 * option or a malformed UUID.
 */
static int vfb_parse_name(struct pci_dev *pdev, const char *buf,
			  bool *ret_has_token, uuid_t *ret_uuid)
{
	static const char opt[] = "vf_token=";
	const char *name = pci_name(pdev);
	size_t len = strlen(name);
	bool has_token = false;

	if (strncmp(buf, name, len))
		return 0;
	buf += len;
	if (*buf && *buf != ' ')
		return 0;

	for (;;) {
		while (*buf == ' ')
			buf++;
		if (!*buf)
			break;
		if (has_token || strncmp(buf, opt, sizeof(opt) - 1))
			return -EINVAL;
		buf += sizeof(opt) - 1;
		if (strnlen(buf, UUID_STRING_LEN) < UUID_STRING_LEN ||
		    uuid_parse(buf, ret_uuid))
			return -EINVAL;
		buf += UUID_STRING_LEN;
		if (*buf && *buf != ' ')
			return -EINVAL;
		has_token = true;
	}
	*ret_has_token = has_token;
	return 1;
}

static int vfb_match(struct vfio_device *core_vdev, char *buf)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	bool has_token = false;
	uuid_t want, given;
	int ret;

	/*
	 * A revoked VF that is still open (its holder has the group fd) gives
	 * no new device fd. The flag can change right after this read: an fd
	 * opened then is refused by every operation all the same.
	 */
	if (READ_ONCE(vfb->revoked)) {
		ret = vfb_parse_name(vfb->core_device.pdev, buf, &has_token, &given);
		return ret > 0 ? -ENODEV : ret;
	}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
	/*
	 * From 6.17 vfio_pci_core_match() checks the token through
	 * ops->match_token_uuid, which here lets an armed VF through without
	 * one: the group path must never see that. So parse the name here
	 * (same rules) and call the core's token check directly.
	 */
	ret = vfb_parse_name(vfb->core_device.pdev, buf, &has_token, &given);
	if (ret <= 0)
		return ret;
	/* No per-VF token: exactly vfio-pci's rules, PF token included. */
	if (!vfb_get_token(vfb, &want))
		ret = vfio_pci_core_match_token_uuid(core_vdev, has_token ? &given : NULL);
	else
		ret = vfb_check_token(vfb, &want, has_token ? &given : NULL);
	return ret ? ret : 1;
#else
	/* No per-VF token: exactly vfio-pci's rules, PF token included. */
	if (!vfb_get_token(vfb, &want))
		return vfio_pci_core_match(core_vdev, buf);

	ret = vfb_parse_name(vfb->core_device.pdev, buf, &has_token, &given);
	if (ret <= 0)
		return ret;
	ret = vfb_check_token(vfb, &want, has_token ? &given : NULL);
	return ret ? ret : 1;
#endif
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
/*
 * The cdev path (/dev/vfio/devices/vfioN, BIND_FLAG_TOKEN) from 6.17; only
 * vfio_df_check_token() calls it (vfb_match() does not go through the
 * core's match, which would call it too).
 *
 * vfio_df_ioctl_bind_iommufd() (drivers/vfio/device_cdev.c) takes
 * dev_set->lock, calls this (vfio_df_check_token()), then vfio_df_open()
 * -> vfio_df_device_first_open() -> vfio_df_iommufd_bind()
 * (drivers/vfio/iommufd.c) -> ops->bind_iommufd, and drops the lock only
 * after that: both run under one hold of the device set lock, which arming
 * changes under too. So the arm_bind flag set here is seen by the
 * bind_iommufd of the same VFIO_DEVICE_BIND_IOMMUFD and by no other bind,
 * and the VF cannot be disarmed or re-armed in between. A bind that fails
 * in between (iommufd fd not an iommufd, device already open) leaves the
 * flag set: the next cdev bind sets it afresh here; a group-path open
 * through an iommufd (group set to an iommufd as its container) calls
 * bind_iommufd without this and would then be checked against the armed
 * iommufd, a refusal at worst, never an admission.
 */
static int vfb_match_token_uuid(struct vfio_device *core_vdev,
				const uuid_t *uuid)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	uuid_t want;

#ifdef VFB_ARM
	lockdep_assert_held(&core_vdev->dev_set->lock);
	vfb->arm_bind = false;
	/*
	 * Armed: the broker leased this VF to the holder of arm_ictx, and
	 * stock QEMU sends no token. A token given is checked as always, so
	 * a wrong one stays refused.
	 */
	if (!uuid && vfb->arm_ictx) {
		vfb->arm_bind = true;
		return 0;
	}
#endif
	/* cdev binds only a device nobody has open: revoked is false here */
	if (!vfb_get_token(vfb, &want))
		return vfio_pci_core_match_token_uuid(core_vdev, uuid);
	return vfb_check_token(vfb, &want, uuid);
}
#endif

#ifdef VFB_ARM
/*
 * A bind let through by the arm without a token must come through the
 * armed iommufd: a cdev fd that is open but unbound (handed out for an
 * earlier lease and kept) has no token and, after the VF was leased again
 * with another iommufd, no way in.
 */
static int vfb_bind_iommufd(struct vfio_device *core_vdev,
			    struct iommufd_ctx *ictx, u32 *out_device_id)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	bool by_arm = vfb->arm_bind;

	lockdep_assert_held(&core_vdev->dev_set->lock);
	vfb->arm_bind = false;
	if (by_arm && ictx != vfb->arm_ictx) {
		pci_info_ratelimited(vfb->core_device.pdev,
				     "bind without VF token refused: not through the armed iommufd\n");
		return -EACCES;
	}
	return vfio_iommufd_physical_bind(core_vdev, ictx, out_device_id);
}
#define VFB_BIND_IOMMUFD vfb_bind_iommufd
#else
#define VFB_BIND_IOMMUFD vfio_iommufd_physical_bind
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0) && IS_ENABLED(CONFIG_IOMMUFD)
/*
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT reaches the driver here, not through the
 * ioctl op, with the device set lock held (device_cdev.c), the lock
 * revoked changes under: a revoked holder cannot give the VF a new IOMMU
 * domain. Detaching is left alone: it only takes translations away.
 */
static int vfb_attach_ioas(struct vfio_device *core_vdev, u32 *pt_id)
{
	if (READ_ONCE(to_vfb(core_vdev)->revoked))
		return -ENODEV;
	return vfio_iommufd_physical_attach_ioas(core_vdev, pt_id);
}
#define VFB_ATTACH_IOAS vfb_attach_ioas
#else
/* NULL where IOMMUFD is off (vfio.h) */
#define VFB_ATTACH_IOAS vfio_iommufd_physical_attach_ioas
#endif

static ssize_t vfbroker_token_store(struct device *dev,
				    struct device_attribute *attr,
				    const char *buf, size_t count)
{
	struct vfb_device *vfb = dev_to_vfb(dev);
	size_t len = count;
	uuid_t uuid;

	if (len && buf[len - 1] == '\n')
		len--;
	if (len == 0) {
		mutex_lock(&vfb->token_lock);
		vfb->token_set = false;
		uuid_copy(&vfb->token, &uuid_null);
		mutex_unlock(&vfb->token_lock);
		pci_dbg(to_pci_dev(dev), "per-VF token cleared\n");
		return count;
	}
	/* the null UUID is what an open without a token looks like on cdev */
	if (len != UUID_STRING_LEN || uuid_parse(buf, &uuid) || uuid_is_null(&uuid))
		return -EINVAL;

	mutex_lock(&vfb->token_lock);
	uuid_copy(&vfb->token, &uuid);
	vfb->token_set = true;
	mutex_unlock(&vfb->token_lock);
	pci_dbg(to_pci_dev(dev), "per-VF token set\n");
	return count;
}
static DEVICE_ATTR_WO(vfbroker_token);

/* --- arming ------------------------------------------------------------------ */

#ifdef VFB_ARM
/*
 * Drops vfb's arm, if any, and with gone set refuses every later one. The
 * iommufd reference is put after the lock: its last put may release the
 * iommufd (deferred by fput, but no reason to do it under the lock).
 */
static void vfb_disarm(struct vfb_device *vfb, bool gone)
{
	struct vfio_device *core_vdev = &vfb->core_device.vdev;
	struct iommufd_ctx *old;

	mutex_lock(&core_vdev->dev_set->lock);
	old = vfb->arm_ictx;
	vfb->arm_ictx = NULL;
	vfb->arm_bind = false;
	if (gone)
		vfb->gone = true;
	mutex_unlock(&core_vdev->dev_set->lock);
	if (old) {
		iommufd_ctx_put(old);
		pci_dbg(vfb->core_device.pdev, "disarmed\n");
	}
}

/* Arms vfb for ictx, taking over the caller's reference. */
static int vfb_arm(struct vfb_device *vfb, struct iommufd_ctx *ictx)
{
	struct vfio_device *core_vdev = &vfb->core_device.vdev;
	struct iommufd_ctx *old;

	mutex_lock(&core_vdev->dev_set->lock);
	if (vfb->gone) {
		mutex_unlock(&core_vdev->dev_set->lock);
		iommufd_ctx_put(ictx);
		return -ENODEV;
	}
	/* re-arming replaces: the old iommufd's reference goes */
	old = vfb->arm_ictx;
	vfb->arm_ictx = ictx;
	mutex_unlock(&core_vdev->dev_set->lock);
	if (old)
		iommufd_ctx_put(old);
	pci_dbg(vfb->core_device.pdev, "armed for a bind without VF token\n");
	return 0;
}
#else
static void vfb_disarm(struct vfb_device *vfb, bool gone)
{
}
#endif

/* --- revocation -------------------------------------------------------------- */

/*
 * The head of vfio-pci-core's private struct vfio_pci_ioeventfd
 * (drivers/vfio/pci/vfio_pci_priv.h, the same from 6.1 to 7.3): the list
 * link, the device and the virqfd, the only fields used here. Each entry's
 * device is checked before its virqfd is touched.
 */
struct vfb_ioeventfd_head {
	struct list_head next;
	struct vfio_pci_core_device *vdev;
	struct virqfd *virqfd;
};

/*
 * An ioeventfd is the holder's own eventfd wired to a BAR write that the
 * kernel performs (vfio_pci_ioeventfd_handler); it does not go through an
 * fd operation, so the revoked flag never sees it, and vfio-pci-core drops
 * ioeventfds only on the last close. Disarm every virqfd the way
 * VFIO_DEVICE_IOEVENTFD with fd -1 does (vfio_virqfd_disable() waits for a
 * handler that is running); the entries stay listed, with no virqfd, until
 * vfio_pci_core_disable() frees them on close. Returns how many were
 * armed, or -EPROTO if the list does not look like vfio-pci-core's.
 */
static int vfb_disarm_ioeventfds(struct vfio_pci_core_device *vdev)
{
	struct vfb_ioeventfd_head *ioev;
	int n = 0;

	mutex_lock(&vdev->ioeventfds_lock);
	list_for_each_entry(ioev, &vdev->ioeventfds_list, next) {
		if (ioev->vdev != vdev) {
			n = -EPROTO;
			break;
		}
		if (READ_ONCE(ioev->virqfd))
			n++;
		vfio_virqfd_disable(&ioev->virqfd);
	}
	mutex_unlock(&vdev->ioeventfds_lock);
	return n;
}

/*
 * Interrupt triggers (INTx, MSI, MSI-X) and the error eventfd come down
 * only through VFIO_DEVICE_SET_IRQS, whose argument vfio-pci-core reads
 * with copy_from_user() and whose worker is not exported. So the header
 * goes into a page mapped for the duration in the writing process (root,
 * inside its write() of the revoke attribute) and the core's own ioctl path
 * runs on it: DATA_NONE with count 0 disables the index, as on close.
 * The request eventfd stays: it tells the holder to let go.
 */
static int vfb_disable_irqs(struct vfio_pci_core_device *vdev)
{
	struct vfio_irq_set hdr = {
		.argsz = sizeof(hdr),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
	};
	int type = READ_ONCE(vdev->irq_type);
	unsigned long uaddr;
	int ret = 0, r;

	if (!current->mm || (current->flags & PF_KTHREAD))
		return -ESRCH;
	uaddr = vm_mmap(NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, 0);
	if (IS_ERR_VALUE(uaddr))
		return (int)uaddr;

	if (type == VFIO_PCI_INTX_IRQ_INDEX || type == VFIO_PCI_MSI_IRQ_INDEX ||
	    type == VFIO_PCI_MSIX_IRQ_INDEX) {
		hdr.index = type;
		if (copy_to_user((void __user *)uaddr, &hdr, sizeof(hdr)))
			ret = -EFAULT;
		else
			ret = vfio_pci_core_ioctl(&vdev->vdev, VFIO_DEVICE_SET_IRQS, uaddr);
	}
	/* DATA_NONE on an unset error eventfd is EINVAL: only when set */
	if (READ_ONCE(vdev->err_trigger)) {
		hdr.index = VFIO_PCI_ERR_IRQ_INDEX;
		if (copy_to_user((void __user *)uaddr, &hdr, sizeof(hdr)))
			r = -EFAULT;
		else
			r = vfio_pci_core_ioctl(&vdev->vdev, VFIO_DEVICE_SET_IRQS, uaddr);
		if (!ret)
			ret = r;
	}
	vm_munmap(uaddr, PAGE_SIZE);
	return ret;
}

/* vfio-pci-core's LOW_POWER_ENTRY (no wakeup eventfd) or LOW_POWER_EXIT */
static long vfb_low_power(struct vfio_pci_core_device *vdev, bool enter)
{
	return vfio_pci_core_ioctl_feature(&vdev->vdev, VFIO_DEVICE_FEATURE_SET |
					   (enter ? VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY :
						    VFIO_DEVICE_FEATURE_LOW_POWER_EXIT),
					   NULL, 0);
}

/*
 * Quiesce a revoked device. Called with the device set lock held and the
 * device open, after every fd operation that began before the revocation
 * has returned. Returns 0, or -EIO if BAR faults could not be blocked.
 */
static int vfb_quiesce(struct vfb_device *vfb)
{
	struct vfio_pci_core_device *vdev = &vfb->core_device;
	struct vfio_device *core_vdev = &vdev->vdev;
	struct pci_dev *pdev = vdev->pdev;
	int pm, i, n, err = 0;
	long ret;

	/*
	 * vfio's fd ioctl path wakes the device around every ioctl; these
	 * calls bypass it, so wake it here (the holder may have put it into
	 * low power itself).
	 */
	pm = pm_runtime_resume_and_get(&pdev->dev);
	if (pm < 0)
		pci_warn(pdev, "revocation: cannot wake the device (%d), trying anyway\n", pm);

	/*
	 * Take the device out of the holder's low power first. With
	 * LOW_POWER_ENTRY_WITH_WAKEUP its wakeup eventfd stays armed, and the
	 * core's runtime resume (any later wake-up, even one for an ioctl that
	 * is then refused) leaves low power by itself, which lets BAR faults
	 * be served again; and while the holder's low power is engaged the
	 * revocation's own entry below fails. Exiting drops the holder's
	 * eventfd; the holder cannot enter again, its feature ioctls are
	 * refused.
	 */
	ret = vfb_low_power(vdev, false);
	if (ret)
		pci_warn(pdev, "revocation: leaving the holder's low power failed (%ld)\n", ret);

	/*
	 * For a VF, memory enable lives in the PF, so vfio-pci-core never
	 * refuses BAR faults on the virtual command register; its fault
	 * handler (the huge-page one on 6.12+ too) refuses them (SIGBUS)
	 * while the low-power feature is engaged. Entering it zaps the BAR
	 * mappings under memory_lock. Entered without a wakeup eventfd,
	 * nothing but the last close (vfio_pci_core_disable()) leaves it.
	 * Entered before anything else, so the holder's mappings are dead
	 * while the rest runs. (It would also revoke BAR dma-bufs, 6.19+, but
	 * the reset below gives those back; there are none: this driver sets
	 * no pci_ops->get_dmabuf_phys, so VFIO_DEVICE_FEATURE_DMA_BUF gives
	 * EOPNOTSUPP. A driver that offers them must revoke them after the
	 * reset.)
	 */
	ret = vfb_low_power(vdev, true);
	if (ret) {
		pci_warn(pdev, "revocation: BAR faults not blocked (%ld)\n", ret);
		err = -EIO;
	}

	n = vfb_disarm_ioeventfds(vdev);
	if (n < 0) {
		pci_warn(pdev, "revocation: ioeventfd list not understood (%d), left armed\n", n);
		err = -EIO;
	} else if (n) {
		pci_dbg(pdev, "revocation: %d ioeventfds disarmed\n", n);
	}

	ret = vfb_disable_irqs(vdev);
	if (ret)
		pci_warn(pdev, "revocation: interrupt eventfds not torn down (%ld)\n", ret);

	/*
	 * vfio-pci-core's own VFIO_DEVICE_RESET path (it does not use its
	 * argument): zaps every BAR mapping under memory_lock, then a function
	 * reset, so the device drops its queues, DMA and interrupt setup.
	 * pci_try_reset_function() gives -EAGAIN while someone holds the
	 * device lock; an unbind waiting for the holder holds it all along.
	 */
	for (i = 0; i < VFB_RESET_TRIES; i++) {
		ret = vfio_pci_core_ioctl(core_vdev, VFIO_DEVICE_RESET, 0);
		if (ret != -EAGAIN)
			break;
		usleep_range(5000, 10000);
	}
	if (ret)
		pci_warn(pdev, "revocation: reset failed (%ld), bus master off only\n", ret);

	/*
	 * The reset restores the saved config space, bus master included; MSI
	 * and MSI-X are memory writes, so without bus mastering the device can
	 * neither DMA nor interrupt. The holder cannot turn it back on: its
	 * config writes now fail.
	 */
	pci_clear_master(pdev);


	/* Tell the holder through its request eventfd, as unbind would. */
	vfio_pci_core_request(core_vdev, 1);

	/* resume_and_get drops its reference itself when it fails */
	if (pm >= 0)
		pm_runtime_put(&pdev->dev);
	return err;
}

/*
 * Revokes every open fd of vfb. Waits only for fd operations already
 * running, never for the holder. 0 also when nothing was open.
 */
static int vfb_revoke(struct vfb_device *vfb)
{
	struct vfio_device *core_vdev = &vfb->core_device.vdev;
	int ret = 0;

	/*
	 * A revoked lease is over: no bind without a token any more, whether
	 * or not the VF is open. The broker arms it again for the next lease.
	 */
	vfb_disarm(vfb, false);

	mutex_lock(&vfb->revoke_lock);

	mutex_lock(&core_vdev->dev_set->lock);
	/* Not open, or revoked and not yet closed: nothing left to take away. */
	if (!vfb->open || vfb->revoked) {
		mutex_unlock(&core_vdev->dev_set->lock);
		mutex_unlock(&vfb->revoke_lock);
		return 0;
	}
	WRITE_ONCE(vfb->revoked, true);
	mutex_unlock(&core_vdev->dev_set->lock);

	/*
	 * Wait for the fd operations already running; new ones see revoked.
	 * Outside the device set lock: a hot reset ioctl takes it inside its
	 * read section.
	 */
	synchronize_srcu(&vfb->srcu);

	mutex_lock(&core_vdev->dev_set->lock);
	/* Closed meanwhile: close_device already reset it and cleared revoked. */
	if (vfb->open && READ_ONCE(vfb->revoked)) {
		ret = vfb_quiesce(vfb);
		pci_info(vfb->core_device.pdev,
			 "revoked: open fds fail with ENODEV, BAR mappings torn down, device reset%s\n",
			 ret ? " (incomplete, see above)" : "");
	}
	mutex_unlock(&core_vdev->dev_set->lock);

	mutex_unlock(&vfb->revoke_lock);
	return ret;
}

static ssize_t vfbroker_revoke_store(struct device *dev,
				     struct device_attribute *attr,
				     const char *buf, size_t count)
{
	bool revoke;
	int ret;

	ret = kstrtobool(buf, &revoke);
	if (ret)
		return ret;
	if (!revoke)
		return -EINVAL;
	ret = vfb_revoke(dev_to_vfb(dev));
	return ret ? ret : count;
}
static DEVICE_ATTR_WO(vfbroker_revoke);

/*
 * The bound device named by the first len bytes of buf, with a reference on
 * its vfio device (vfio frees the structure with its last reference), or
 * NULL.
 */
static struct vfb_device *vfb_get_by_name(const char *buf, size_t len)
{
	struct vfb_device *vfb, *found = NULL;

	mutex_lock(&vfb_list_lock);
	list_for_each_entry(vfb, &vfb_list, node) {
		const char *name = pci_name(vfb->core_device.pdev);

		if (strlen(name) == len && !strncmp(name, buf, len)) {
			found = vfb;
			get_device(&vfb->core_device.vdev.device);
			break;
		}
	}
	mutex_unlock(&vfb_list_lock);
	return found;
}

static void vfb_put(struct vfb_device *vfb)
{
	put_device(&vfb->core_device.vdev.device);
}

/*
 * /sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_revoke: write a VF's
 * address to revoke it. Unlike the VF's own attribute this one exists
 * while the VF's unbind (or sriov_numvfs=0, or the PF's unbind) waits
 * for the holder: the driver core removes a device's attributes before
 * calling remove(), which then waits in vfio for the last close.
 */
static ssize_t vfb_drv_revoke_store(struct device_driver *drv,
				    const char *buf, size_t count)
{
	struct vfb_device *vfb;
	size_t len = count;
	int ret;

	if (len && buf[len - 1] == '\n')
		len--;
	vfb = vfb_get_by_name(buf, len);
	if (!vfb)
		return -ENODEV;
	/* per VF, as the VF attribute: a PF's fds are its owner's */
	if (!vfb->core_device.pdev->is_virtfn)
		ret = -EINVAL;
	else
		ret = vfb_revoke(vfb);
	vfb_put(vfb);
	return ret ? ret : count;
}
static struct driver_attribute driver_attr_vfbroker_revoke =
	__ATTR(vfbroker_revoke, 0200, NULL, vfb_drv_revoke_store);

/*
 * /sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_arm: "BDF FD\n" lets VF
 * BDF be bound through its cdev without a VF token, only through the
 * iommufd FD (an fd of the writing process; the driver keeps a reference
 * to that iommufd until the VF is disarmed, revoked or removed). Writing
 * again replaces the iommufd. vfbroker_disarm: "BDF\n". Driver attributes,
 * like vfbroker_revoke: they stay while the VF's unbind waits.
 */
static ssize_t vfb_drv_arm_store(struct device_driver *drv,
				 const char *buf, size_t count)
{
#ifdef VFB_ARM
	struct iommufd_ctx *ictx;
	struct vfb_device *vfb;
	const char *sp;
	int fd, ret;

	sp = strnchr(buf, count, ' ');
	if (!sp || sp == buf)
		return -EINVAL;
	/* kstrtoint() takes one trailing newline */
	ret = kstrtoint(sp + 1, 10, &fd);
	if (ret)
		return ret;
	vfb = vfb_get_by_name(buf, sp - buf);
	if (!vfb)
		return -ENODEV;
	if (!vfb->core_device.pdev->is_virtfn) {
		/* a PF needs no VF token: "not our VF" */
		ret = -ENODEV;
		goto out;
	}
	/* the fd table of the writer: the broker's own iommufd */
	ictx = iommufd_ctx_from_fd(fd);
	if (IS_ERR(ictx)) {
		/* EBADF: no such fd; EBADFD: open but not an iommufd */
		ret = PTR_ERR(ictx) == -EBADFD ? -EINVAL : PTR_ERR(ictx);
		goto out;
	}
	ret = vfb_arm(vfb, ictx);
out:
	vfb_put(vfb);
	return ret ? ret : count;
#else
	return -EOPNOTSUPP;
#endif
}
static struct driver_attribute driver_attr_vfbroker_arm =
	__ATTR(vfbroker_arm, 0200, NULL, vfb_drv_arm_store);

static ssize_t vfb_drv_disarm_store(struct device_driver *drv,
				    const char *buf, size_t count)
{
#ifdef VFB_ARM
	struct vfb_device *vfb;
	size_t len = count;
	int ret = 0;

	if (len && buf[len - 1] == '\n')
		len--;
	vfb = vfb_get_by_name(buf, len);
	if (!vfb)
		return -ENODEV;
	/*
	 * A device bound meanwhile stays bound and working: disarming only
	 * stops later binds without a token; revocation takes a VF back.
	 */
	if (vfb->core_device.pdev->is_virtfn)
		vfb_disarm(vfb, false);
	else
		ret = -ENODEV;
	vfb_put(vfb);
	return ret ? ret : count;
#else
	return -EOPNOTSUPP;
#endif
}
static struct driver_attribute driver_attr_vfbroker_disarm =
	__ATTR(vfbroker_disarm, 0200, NULL, vfb_drv_disarm_store);

static struct attribute *vfb_drv_attrs[] = {
	&driver_attr_vfbroker_revoke.attr,
	&driver_attr_vfbroker_arm.attr,
	&driver_attr_vfbroker_disarm.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vfb_drv);

static struct attribute *vfb_attrs[] = {
	&dev_attr_vfbroker_token.attr,
	&dev_attr_vfbroker_revoke.attr,
	NULL,
};

/* Tokens and revocation are per VF: a PF shows neither attribute. */
static umode_t vfb_attr_is_visible(struct kobject *kobj, struct attribute *attr,
				   int n)
{
	return to_pci_dev(kobj_to_dev(kobj))->is_virtfn ? attr->mode : 0;
}

static const struct attribute_group vfb_group = {
	.attrs = vfb_attrs,
	.is_visible = vfb_attr_is_visible,
};

static const struct attribute_group *vfb_groups[] = {
	&vfb_group,
	NULL,
};

/* --- driver ------------------------------------------------------------------- */

/*
 * The name doubles as the pci_driver name: vfio-pci-core writes the PF's
 * ops name into each new VF's driver_override, so VFs bind here by themselves.
 */
static const struct vfio_device_ops vfb_ops = {
	.name		= VFB_NAME,
	.init		= vfb_init_dev,
	.release	= vfb_release_dev,
	.open_device	= vfb_open_device,
	.close_device	= vfb_close_device,
	.ioctl		= vfb_ioctl,
	.device_feature	= vfb_device_feature,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 19, 0)
	.get_region_info_caps = vfb_get_region_info_caps,
#endif
	.read		= vfb_read,
	.write		= vfb_write,
	.mmap		= vfb_mmap,
	.request	= vfio_pci_core_request,
	.match		= vfb_match,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
	.match_token_uuid = vfb_match_token_uuid,
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	/* present from 6.2, required from 6.6; NULL where IOMMUFD is off */
	.bind_iommufd	= VFB_BIND_IOMMUFD,
	.unbind_iommufd	= vfio_iommufd_physical_unbind,
	.attach_ioas	= VFB_ATTACH_IOAS,
	.detach_ioas	= vfio_iommufd_physical_detach_ioas,
#endif
};

static int vfb_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vfb_device *vfb;
	int ret;

	vfb = vfio_alloc_device(vfb_device, core_device.vdev, &pdev->dev, &vfb_ops);
	if (IS_ERR(vfb))
		return PTR_ERR(vfb);

	dev_set_drvdata(&pdev->dev, &vfb->core_device);
	ret = vfio_pci_core_register_device(&vfb->core_device);
	if (ret)
		goto out_put_vdev;
	mutex_lock(&vfb_list_lock);
	list_add(&vfb->node, &vfb_list);
	mutex_unlock(&vfb_list_lock);
	return 0;

out_put_vdev:
	vfio_put_device(&vfb->core_device.vdev);
	return ret;
}

static void vfb_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);
	struct vfb_device *vfb = container_of(vdev, struct vfb_device, core_device);

	/*
	 * Unbind, sriov_numvfs=0, module unload: the iommufd reference goes
	 * now, and arming stays refused while the unregistration below waits
	 * (the device is still on the list, for revocation).
	 */
	vfb_disarm(vfb, true);
	/*
	 * Waits until the holder closes; the device stays on the list
	 * meanwhile, so the driver attribute can still revoke it.
	 */
	vfio_pci_core_unregister_device(vdev);
	mutex_lock(&vfb_list_lock);
	list_del(&vfb->node);
	mutex_unlock(&vfb_list_lock);
	vfio_put_device(&vdev->vdev);
}

static int vfb_sriov_configure(struct pci_dev *pdev, int nr_virtfn)
{
	/* Disabling is always allowed: it only takes VFs away. */
	if (nr_virtfn && !enable_sriov)
		return -ENOENT;
	return vfio_pci_core_sriov_configure(dev_get_drvdata(&pdev->dev), nr_virtfn);
}

static const struct pci_device_id vfb_pci_table[] = {
	/* only through driver_override: never claims a device by itself */
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) },
	{}
};
MODULE_DEVICE_TABLE(pci, vfb_pci_table);

static struct pci_driver vfb_pci_driver = {
	.name			= VFB_NAME,
	.id_table		= vfb_pci_table,
	.probe			= vfb_probe,
	.remove			= vfb_remove,
	.sriov_configure	= vfb_sriov_configure,
	.err_handler		= &vfio_pci_core_err_handlers,
	.driver_managed_dma	= true,
	/* pci_register_driver() copies these into driver.dev_groups */
	.dev_groups		= vfb_groups,
	/* and these into driver.groups, the driver's own attributes */
	.groups			= vfb_drv_groups,
};

module_pci_driver(vfb_pci_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-pci variant driver with per-VF tokens and forced revocation (vfbroker)");
MODULE_VERSION("0.1.0");
