# Description: Docker Engine from Docker's Fedora repository; the guest user joins the docker group (root-equivalent in the guest)
dvm_dnf_addrepo https://download.docker.com/linux/fedora/docker-ce.repo /etc/yum.repos.d/docker-ce.repo
dvm_pkg_install docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
dvm_unit_enable_now docker.service
# The agent user is never added: docker group membership is root in the guest.
dvm_add_user_to_group "$DVM_USER" docker
