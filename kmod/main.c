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
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>
#include <linux/srcu.h>
#include <linux/uuid.h>
#include <linux/version.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#include <crypto/utils.h>
#else
#include <crypto/algapi.h>
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
};

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

	/* No per-VF token: exactly vfio-pci's rules, PF token included. */
	if (!vfb_get_token(vfb, &want))
		return vfio_pci_core_match(core_vdev, buf);

	ret = vfb_parse_name(vfb->core_device.pdev, buf, &has_token, &given);
	if (ret <= 0)
		return ret;
	ret = vfb_check_token(vfb, &want, has_token ? &given : NULL);
	return ret ? ret : 1;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
/* The cdev path (/dev/vfio/devices/vfioN, BIND_FLAG_TOKEN) from 6.17. */
static int vfb_match_token_uuid(struct vfio_device *core_vdev,
				const uuid_t *uuid)
{
	struct vfb_device *vfb = to_vfb(core_vdev);
	uuid_t want;

	if (!vfb_get_token(vfb, &want))
		return vfio_pci_core_match_token_uuid(core_vdev, uuid);
	return vfb_check_token(vfb, &want, uuid);
}
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

/* --- revocation -------------------------------------------------------------- */

/*
 * Quiesce a revoked device. Called with the device set lock held and the
 * device open, after every fd operation that began before the revocation
 * has returned.
 */
static void vfb_quiesce(struct vfb_device *vfb)
{
	struct vfio_pci_core_device *vdev = &vfb->core_device;
	struct vfio_device *core_vdev = &vdev->vdev;
	struct pci_dev *pdev = vdev->pdev;
	long ret;
	int pm, i;

	/*
	 * vfio's fd ioctl path wakes the device around every ioctl; these
	 * calls bypass it, so wake it here (the holder may have put it into
	 * low power itself).
	 */
	pm = pm_runtime_resume_and_get(&pdev->dev);
	if (pm < 0)
		pci_warn(pdev, "revocation: cannot wake the device (%d), trying anyway\n", pm);

	/*
	 * vfio-pci-core's own VFIO_DEVICE_RESET path (it does not use its
	 * argument): zaps every BAR mapping under memory_lock, then a function
	 * reset, so the device drops its queues, DMA and interrupt setup.
	 * pci_try_reset_function() gives -EAGAIN while someone holds the
	 * device lock.
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

	/*
	 * For a VF, memory enable lives in the PF, so vfio-pci-core never
	 * refuses BAR faults on the virtual command register; its fault
	 * handler refuses them (SIGBUS) while the low-power feature is
	 * engaged. Entering it zaps the BAR mappings again under memory_lock,
	 * which covers faults that raced with the reset. It stays engaged
	 * until the last fd closes (vfio_pci_core_disable() leaves it).
	 */
	ret = vfio_pci_core_ioctl_feature(core_vdev,
					  VFIO_DEVICE_FEATURE_SET |
					  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
					  NULL, 0);
	if (ret && !vdev->pm_runtime_engaged)
		pci_warn(pdev, "revocation: BAR faults not blocked (%ld)\n", ret);

	/* Tell the holder through its request eventfd, as unbind would. */
	vfio_pci_core_request(core_vdev, 1);

	/* resume_and_get drops its reference itself when it fails */
	if (pm >= 0)
		pm_runtime_put(&pdev->dev);
}

static ssize_t vfbroker_revoke_store(struct device *dev,
				     struct device_attribute *attr,
				     const char *buf, size_t count)
{
	struct vfb_device *vfb = dev_to_vfb(dev);
	struct vfio_device *core_vdev = &vfb->core_device.vdev;
	struct pci_dev *pdev = to_pci_dev(dev);
	bool revoke;
	int ret;

	ret = kstrtobool(buf, &revoke);
	if (ret)
		return ret;
	if (!revoke)
		return -EINVAL;

	mutex_lock(&vfb->revoke_lock);

	mutex_lock(&core_vdev->dev_set->lock);
	/* Not open, or revoked and not yet closed: nothing left to take away. */
	if (!vfb->open || vfb->revoked) {
		mutex_unlock(&core_vdev->dev_set->lock);
		mutex_unlock(&vfb->revoke_lock);
		return count;
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
		vfb_quiesce(vfb);
		pci_info(pdev, "revoked: open fds fail with ENODEV, BAR mappings torn down, device reset\n");
	}
	mutex_unlock(&core_vdev->dev_set->lock);

	mutex_unlock(&vfb->revoke_lock);
	return count;
}
static DEVICE_ATTR_WO(vfbroker_revoke);

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
	.bind_iommufd	= vfio_iommufd_physical_bind,
	.unbind_iommufd	= vfio_iommufd_physical_unbind,
	.attach_ioas	= vfio_iommufd_physical_attach_ioas,
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
	return 0;

out_put_vdev:
	vfio_put_device(&vfb->core_device.vdev);
	return ret;
}

static void vfb_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(vdev);
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
};

module_pci_driver(vfb_pci_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-pci variant driver with per-VF tokens and forced revocation (vfbroker)");
MODULE_VERSION("0.1.0");
