#!/usr/bin/env bash
# The main job, end to end on the moto emulator: apply the learning stack as
# an MVP, show that a converged stack plans no changes, promote it to prod in
# place, show its status, cost and outputs, apply and destroy an EKS Auto Mode
# stack, and tear it all down again.
set -euo pipefail
cd "$(dirname "$0")/.."
EK=./target/debug/ekstack
STACK=stacks/learning.toml

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "validate $STACK in every environment"
$EK validate $STACK --env mvp
$EK validate $STACK --env prod

step "plan --env mvp (what apply will create, and what it will cost)"
$EK plan $STACK --env mvp

step "apply --env mvp"
$EK apply $STACK --env mvp --yes

step "plan --env mvp again: converged"
$EK plan $STACK --env mvp

step "plan --env prod: the promotion, in place (Multi-AZ, a read replica, an RDS proxy)"
$EK plan $STACK --env prod

step "diagram --env prod --plan: the promotion as a picture (target/demo/promotion.svg), each box coloured by its action"
mkdir -p target/demo
$EK diagram $STACK --env prod --plan --format svg -o target/demo/promotion.svg

step "plan --env prod --lang ja: the same plan's annotations in Japanese (the last lines)"
$EK plan $STACK --env prod --lang ja | grep -E "Multi-AZ|クラス変更|プラン:"

step "apply --env prod"
$EK apply $STACK --env prod --yes

step "explain --env prod: what each resource is for, and the three changes that save the most"
$EK explain $STACK --env prod | sed -n '/changes to the file/,$p'

step "status --env prod"
$EK status $STACK --env prod

step "output --env prod"
$EK output $STACK --env prod

step "output --env prod --k8s: the app's ConfigMap (DB_HOST is the RDS proxy, DB_READER_HOST the replica) and its service account (IRSA on Fargate)"
$EK output $STACK --env prod --k8s

step "kubeconfig --env prod (into a scratch file): the creator has an access entry"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
$EK kubeconfig $STACK --env prod --kubeconfig "$scratch/config"

step "plan stacks/team.toml --env mvp: teammates' access entries and opt-in add-ons"
$EK plan stacks/team.toml --env mvp

AUTO=stacks/auto.toml
step "apply $AUTO --env mvp: EKS Auto Mode, no node groups or add-ons to run"
$EK apply $AUTO --env mvp --yes

step "plan $AUTO --env mvp again: converged"
$EK plan $AUTO --env mvp

step "output $AUTO --env mvp --k8s: the IngressClass Auto Mode's ALBs answer to, and the app"
$EK output $AUTO --env mvp --k8s

step "destroy $AUTO --env mvp"
$EK destroy $AUTO --env mvp --yes

step "destroy --env prod: refused up front, the prod database is protected"
if $EK destroy $STACK --env prod --yes; then
  echo "unexpected: destroy of a protected database went ahead" >&2
  exit 1
fi

step "apply --env mvp (demote: turns deletion protection off), then destroy"
$EK apply $STACK --env mvp --yes
$EK destroy $STACK --env mvp --yes

step "plan --env mvp after destroy: everything would be created again"
$EK plan $STACK --env mvp | tail -n 1
