/*
 * /machine-config (MachineConfiguration): GET any time; PUT (all fields,
 * the optional ones back to their defaults) and PATCH (only the fields
 * given) before boot. vcpu_count 1 to 32 as in Firecracker; mem_size_mib
 * at least ember's 16 MiB and at most the host's RAM. What ember cannot
 * do is refused rather than ignored: smt true (ember presents one thread
 * per core), CPU templates other than None, huge pages other than None.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/handlers/handlers.h"
#include "api/json.h"
#include "core/log.h"

#define MAX_MEM_MIB (UINT64_C(1) << 40)

void api_get_machine_config(struct api_controller *c, const struct api_call_args *a,
                            struct api_response *resp)
{
	api_reply_json(resp, api_machine_config_json(&c->res.machine));
}

static int check_enum(const char *field, const char *value, const char *const known[], size_t n,
                      char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(value, known[i]))
			return 0;
	return err_set(err, errlen, -EINVAL, "machine-config: field `%s`: unknown variant `%.40s`",
	               field, value);
}

/* Applies body onto *m (a copy); 0 or -EINVAL with err. */
static int parse(const struct api_request *req, bool patch, struct api_machine_config *m, char *err,
                 size_t errlen)
{
	static const char *const templates[] = {"C3", "T2", "T2S", "T2CL", "T2A", "V1N1", "None"};
	static const char *const huge[] = {"None", "Transparent", "2M"};
	json_t *obj;
	uint64_t vcpus = 0, mem = 0;
	bool smt = false, dirty = false, has_vcpus, has_mem, has_smt, has_dirty, has_tpl, has_huge;
	const char *tpl = NULL, *huge_pages = NULL;
	const struct api_json_field fields[] = {
	    {"vcpu_count", API_JSON_U64, !patch, &vcpus, &has_vcpus, 0},
	    {"mem_size_mib", API_JSON_U64, !patch, &mem, &has_mem, 0},
	    {"smt", API_JSON_BOOL, false, &smt, &has_smt, 0},
	    {"track_dirty_pages", API_JSON_BOOL, false, &dirty, &has_dirty, 0},
	    {"cpu_template", API_JSON_STRING, false, &tpl, &has_tpl, 0},
	    {"huge_pages", API_JSON_STRING, false, &huge_pages, &has_huge, 0},
	};
	int r =
	    api_json_parse_object(req->body, req->body_len, "machine-config", &obj, err, errlen);
	if (r)
		return r;
	if ((r = api_json_unpack(obj, "machine-config", fields, ARRAY_SIZE(fields), err, errlen)))
		goto out;
	if (has_tpl &&
	    (r = check_enum("cpu_template", tpl, templates, ARRAY_SIZE(templates), err, errlen)))
		goto out;
	if (has_huge &&
	    (r = check_enum("huge_pages", huge_pages, huge, ARRAY_SIZE(huge), err, errlen)))
		goto out;
	r = -EINVAL;
	if (has_vcpus && (vcpus < 1 || vcpus > API_MAX_VCPUS)) {
		err_set(err, errlen, -EINVAL,
		        "machine-config: field `vcpu_count`: %llu is not a vCPU count "
		        "of 1 to %d",
		        (unsigned long long)vcpus, API_MAX_VCPUS);
		goto out;
	}
	uint64_t host_mib = vm_config_host_memory() >> 20;
	if (has_mem &&
	    (mem < VM_CONFIG_MIN_MEM_MIB || mem > MAX_MEM_MIB || (host_mib && mem > host_mib))) {
		err_set(err, errlen, -EINVAL,
		        "machine-config: field `mem_size_mib`: %llu MiB is not between %d MiB and "
		        "this host's %llu MiB",
		        (unsigned long long)mem, VM_CONFIG_MIN_MEM_MIB,
		        (unsigned long long)host_mib);
		goto out;
	}
	if (has_smt && smt) {
		err_set(err, errlen, -EINVAL,
		        "machine-config: field `smt`: true is not supported: ember "
		        "presents one thread per core");
		goto out;
	}
	if (has_tpl && strcmp(tpl, "None")) {
		err_set(err, errlen, -EINVAL,
		        "machine-config: field `cpu_template`: CPU template %s is "
		        "not supported by ember (only None)",
		        tpl);
		goto out;
	}
	if (has_huge && strcmp(huge_pages, "None")) {
		err_set(err, errlen, -EINVAL,
		        "machine-config: field `huge_pages`: %s is not supported "
		        "yet (only None: guest RAM is regular anonymous memory)",
		        huge_pages);
		goto out;
	}
	r = 0;
	/* PUT resets what it does not name; PATCH keeps it. */
	if (!patch)
		*m = (struct api_machine_config){0};
	if (has_vcpus)
		m->vcpu_count = (unsigned)vcpus;
	if (has_mem)
		m->mem_size_mib = mem;
	if (has_smt)
		m->smt = smt;
	if (has_dirty)
		m->track_dirty_pages = dirty;
	if (has_tpl)
		m->cpu_template_none = true;
out:
	json_decref(obj);
	return r;
}

static void update(struct api_controller *c, const struct api_call_args *a, bool patch,
                   struct api_response *resp)
{
	char err[512];
	struct api_machine_config m = c->res.machine;
	if (parse(a->req, patch, &m, err, sizeof(err))) {
		api_reply_error(resp, API_STATUS_BAD_REQUEST, "%s", err);
		return;
	}
	c->res.machine = m;
	api_reply_empty(resp);
}

void api_put_machine_config(struct api_controller *c, const struct api_call_args *a,
                            struct api_response *resp)
{
	update(c, a, false, resp);
}

void api_patch_machine_config(struct api_controller *c, const struct api_call_args *a,
                              struct api_response *resp)
{
	update(c, a, true, resp);
}
