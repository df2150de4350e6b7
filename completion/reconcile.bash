# bash completion for reconcile(8)
_reconcile() {
        local cur prev
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        case $prev in
        -d|--manifests|--state-dir)
                COMPREPLY=($(compgen -d -- "$cur")); return ;;
        -o|--output)
                COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --netns)
                COMPREPLY=($(compgen -W "$(ls /run/netns 2>/dev/null)" -- "$cur")); return ;;
        --ovsdb)
                COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --only)
                COMPREPLY=($(compgen -W "ethernet bridge vlan bond vxlan macvlan macvtap veth tap route sysctl network pool volume domain service ipset module hugepage ovs-bridge ovs-port" -- "$cur")); return ;;
        --libvirt-uri|--lock-timeout|--resync)
                return ;;
        esac
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "-d --manifests --dry-run --exit-code -o --output --state-dir --libvirt-uri
                        --netns --ovsdb --only --allow-mass-delete --lock-timeout --resync --confirm --confirm-partial -v --verbose -q --quiet -h --help" -- "$cur"))
        else
                COMPREPLY=($(compgen -W "apply plan validate show daemon confirm release version" -- "$cur"))
        fi
}
complete -F _reconcile reconcile
