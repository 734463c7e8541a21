# Description: Tailscale node named after the VM (TAILSCALE_AUTH_KEY secret); Funnel to [env] TAILSCALE_FUNNEL_TARGET when set
# Service: tailscaled.service
# Secret: TAILSCALE_AUTH_KEY alias=DVM_TAILSCALE_AUTH_KEY prefix=tskey- charset=token
#
# [env] TAILSCALE_HOSTNAME: node name (default: the VM name).
# [env] TAILSCALE_FUNNEL_TARGET: an http:// or https:// URL to publish with Tailscale Funnel on
# port 443; Funnel is reset at every sync and turned on only for a valid target.
# Secret TAILSCALE_AUTH_KEY (staged by dvm when set in the host environment): `tailscale up`
# reads it from its staged file (--auth-key=file:...), so it is in no command line. The key is
# used only to log in: a node that is already logged in keeps its login (and the key is not
# spent); a node that is not logged in and has no key is an error.
local hostname target key_file key state json
hostname="$(dvm_setting TAILSCALE_HOSTNAME "${DVM_NAME:-}")"
if ! [[ "$hostname" =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]]; then
	dvm_die "[env] TAILSCALE_HOSTNAME is not a valid host name: '$hostname'"
	return
fi
target="$(dvm_setting TAILSCALE_FUNNEL_TARGET)"

dvm_dnf_addrepo https://pkgs.tailscale.com/stable/fedora/tailscale.repo /etc/yum.repos.d/tailscale.repo
dvm_pkg_install tailscale
dvm_unit_enable_now tailscaled.service

json="$(sudo tailscale status --json 2>/dev/null </dev/null)" || json=''
state="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"BackendState":[[:space:]]*"\([A-Za-z]*\)".*/\1/p' | head -n 1)"

key_file="${DVM_SECRET_FILE_TAILSCALE_AUTH_KEY:-}"
if [ "$state" = Running ]; then
	# Logged in: the key is not needed (auth keys are often single-use, so it is not spent
	# again). Keep the node name in line with the config.
	if [ -n "$key_file" ]; then
		dvm_info "already logged in; TAILSCALE_AUTH_KEY is not used (run 'sudo tailscale logout' in the VM to log in again with a new key)"
	fi
	sudo tailscale set --hostname="$hostname" </dev/null
elif [ -n "$key_file" ]; then
	if [ ! -r "$key_file" ]; then
		dvm_die "the staged TAILSCALE_AUTH_KEY file is missing or unreadable"
		return
	fi
	# xtrace off while the key is in a variable (a user recipe may have run `set -x`).
	dvm_xtrace_off
	key="$(dvm_secret TAILSCALE_AUTH_KEY)"
	if ! [[ "$key" =~ ^tskey-[A-Za-z0-9._=-]+$ ]]; then
		key=''
		dvm_xtrace_restore
		dvm_die "the staged TAILSCALE_AUTH_KEY must start with tskey- and use only [A-Za-z0-9._=-]"
		return
	fi
	key=''
	dvm_xtrace_restore
	dvm_info "logging in as $hostname"
	sudo tailscale up --auth-key="file:$key_file" --hostname="$hostname" --accept-dns </dev/null
else
	dvm_die "tailscale is not logged in (state: ${state:-unknown}); set TAILSCALE_AUTH_KEY=tskey-... in the host environment and run: dvm sync ${DVM_NAME:-NAME}"
	return
fi

# Funnel: off unless the target is a valid http(s) URL.
sudo tailscale funnel reset </dev/null >/dev/null 2>&1 || true
if [ -z "$target" ]; then
	dvm_info "funnel: off (set [env] TAILSCALE_FUNNEL_TARGET to an http(s) URL to publish it)"
else
	dvm_validate_http_url "$target" "[env] TAILSCALE_FUNNEL_TARGET"
	sudo tailscale funnel --bg --https=443 "$target" </dev/null
	dvm_info "funnel: on, target $target"
fi
