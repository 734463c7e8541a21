# Description: dotfiles with chezmoi from [env] CHEZMOI_REPO (an https:// URL; ssh only with CHEZMOI_ALLOW_SSH = true)
# Always: true
# Runs at every sync (Always): it pulls the dotfiles repository, whose changes no fingerprint sees.
#
# [env] keys: CHEZMOI_REPO (required), CHEZMOI_ALLOW_SSH (default false), and the [data] values
# for the templates: CHEZMOI_ROLE, CHEZMOI_NAME, CHEZMOI_EMAIL, CHEZMOI_SIGNING_KEY (default
# <home>/.ssh/id_ed25519_dvm_signing.pub), CHEZMOI_DEPLOY_KEY (default
# <home>/.ssh/id_ed25519_dvm.pub; both keys are made by `dvm ssh-key`).
# When any of the [data] keys is set, ~/.config/chezmoi/chezmoi.toml is written (0600,
# atomically) with a [data] table; otherwise an existing chezmoi.toml is left alone.
local repo allow_ssh home src origin key value text='' any=0
repo="$(dvm_setting CHEZMOI_REPO)"
allow_ssh="$(dvm_bool CHEZMOI_ALLOW_SSH false)"
if [ -z "$repo" ]; then
	dvm_die "[env] CHEZMOI_REPO is required: the https:// URL of your dotfiles repository"
	return
fi
case "$repo" in
https://*)
	dvm_validate_https_url "$repo" "[env] CHEZMOI_REPO"
	;;
ssh://* | *@*:*)
	if [ "$allow_ssh" != true ]; then
		dvm_die "[env] CHEZMOI_REPO is an ssh URL ($repo); dotfiles are fetched over HTTPS by default. Use an https:// URL, or set CHEZMOI_ALLOW_SSH = true (the VM then needs its own ssh key with read access, see dvm ssh-key)"
		return
	fi
	if ! [[ "$repo" =~ ^(ssh://[A-Za-z0-9._-]+@[A-Za-z0-9.-]+(:[0-9]+)?/|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)[A-Za-z0-9._~/-]+$ ]]; then
		dvm_die "[env] CHEZMOI_REPO is not a valid ssh URL: '$repo'"
		return
	fi
	;;
*)
	dvm_die "[env] CHEZMOI_REPO must be an https:// URL (got '$repo')"
	return
	;;
esac

dvm_pkg_install chezmoi git
home="$(dvm_user_home "$DVM_USER")"

for key in CHEZMOI_ROLE CHEZMOI_NAME CHEZMOI_EMAIL CHEZMOI_SIGNING_KEY CHEZMOI_DEPLOY_KEY; do
	[ -z "$(dvm_setting "$key")" ] || any=1
done
if [ "$any" = 1 ]; then
	text='[data]'$'\n'
	for key in role:CHEZMOI_ROLE name:CHEZMOI_NAME email:CHEZMOI_EMAIL; do
		value="$(dvm_setting "${key#*:}")"
		if [ -n "$value" ]; then
			text+="${key%%:*} = $(dvm_toml_string "$value")"$'\n'
		fi
	done
	value="$(dvm_setting CHEZMOI_SIGNING_KEY "$home/.ssh/id_ed25519_dvm_signing.pub")"
	text+="signingKey = $(dvm_toml_string "$value")"$'\n'
	value="$(dvm_setting CHEZMOI_DEPLOY_KEY "$home/.ssh/id_ed25519_dvm.pub")"
	text+="deployKey = $(dvm_toml_string "$value")"$'\n'
	mkdir -p -- "$home/.config/chezmoi"
	printf '%s' "$text" | dvm_write_file "$home/.config/chezmoi/chezmoi.toml" 0600 "$DVM_USER"
fi

src="$home/.local/share/chezmoi"
if [ -d "$src/.git" ]; then
	origin="$(git -C "$src" remote get-url origin 2>/dev/null)" || origin=''
	if [ "$origin" != "$repo" ]; then
		dvm_die "$src is a clone of '$origin', not of [env] CHEZMOI_REPO ($repo); move it away and sync again"
		return
	fi
	chezmoi git -- pull --ff-only --quiet </dev/null
elif [ -e "$src" ]; then
	dvm_die "$src exists but is not a git clone; move it away and sync again"
	return
else
	dvm_info "cloning $repo"
	chezmoi init --no-tty "$repo" </dev/null
fi
chezmoi apply --no-tty </dev/null
