#!/bin/sh
# ember guest test: waits for Ctrl-Alt-Del (the host sends the API's
# SendCtrlAltDel); /init's trap then prints "EMBER-INIT ctrl-alt-del" and reboots.
echo "EMBER-TEST ctrlaltdel PASS waiting"
sleep 120
echo "EMBER-TEST ctrlaltdel FAIL no Ctrl-Alt-Del within 120 s"
exit 1
