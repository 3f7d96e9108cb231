package web

import (
	"fmt"
	"regexp"

	"aidmall/households"
	"aidmall/orders"
	"aidmall/review"
)

// The domain's refusals are written in English for API clients (the contract's words);
// the pages say them in Chinese through this one table. A message not listed is shown as
// the domain wrote it. zh_test.go feeds the domain's own refusals through it, so a
// reworded message fails a test instead of silently turning English on a page.

// zhRule is one domain message (English, written for API clients) in Chinese: the
// pattern's groups fill the Chinese format.
type zhRule struct {
	re *regexp.Regexp
	zh string
}

// zhMessages are the refusals the aid office's pages can meet, from the orders, review
// and attribution packages' own words. A message not listed is shown as it is.
var zhMessages = []zhRule{
	{regexp.MustCompile(`^period (\S+) has not ended yet \(Beijing time\)$`), "期间 %s 尚未结束（北京时间），不能结账。"},
	{regexp.MustCompile(`^period (\S+) overlaps (\S+), already closed$`), "期间 %s 与已结账的期间 %s 重叠。"},
	{regexp.MustCompile(`^period (\S+) lies before (\S+), already closed$`), "期间 %s 早于已结账的期间 %s，不能再结账。"},
	{regexp.MustCompile(`^period (\S+) cannot be closed while (\S+) is open \(close the months in order\)$`), "期间 %s 不能结账：%s 尚未结账（请按月份顺序结账）。"},
	{regexp.MustCompile(`^no period is closed$`), "目前没有已结账的期间。"},
	{regexp.MustCompile(`^only the latest closed period, (\S+), can be reopened$`), "只能重新打开最近结账的期间 %s。"},
	{regexp.MustCompile(`^period (\S+) is not closed$`), "期间 %s 未结账。"},
	{regexp.MustCompile(`^period "([^"]*)": want a year YYYY or a month YYYY-MM$`), "期间“%s”应为年份（如 2019）或月份（如 2019-03）。"},
	{regexp.MustCompile(`^period "([^"]*)": .*$`), "期间“%s”不是有效的年份或月份。"},
	{regexp.MustCompile(`^say why, in at most 500 characters$`), "请填写原因（不超过 500 字）。"},
	{regexp.MustCompile(`^required: say why$`), "请填写处理说明。"},
	{regexp.MustCompile(`^must be dismissed or reread$`), "请选择处理方式。"},
	{regexp.MustCompile(`^a (\S+) item cannot be re-read; dismiss it$`), "此类事项（%s）不能重新读取，请选择“已查看，不再处理”。"},
	{regexp.MustCompile(`^review item (\S+) was already (\S+)$`), "待复核事项 %s 已经处理过（%s）。"},
	{regexp.MustCompile(`^review item "([^"]*)" not found$`), "找不到待复核事项 %s。"},
	{regexp.MustCompile(`^no order has out_order_no (\S+) yet: the event stays parked$`), "还没有订单使用商城订单号 %s，该事件继续等待。"},
	{regexp.MustCompile(`^branch "([^"]*)" not found$`), "单位“%s”不存在。"},
	{regexp.MustCompile(`^must be a year from (\d+) to (\d+)$`), "年份应在 %s 至 %s 之间。"},
	{regexp.MustCompile(`^a year YYYY$`), "请填写四位年份。"},
	{regexp.MustCompile(`^must not be negative$`), "不能为负数。"},
	{regexp.MustCompile(`^mall "([^"]*)" is not connected$`), "未接入商城“%s”。"},
	{regexp.MustCompile(`^(?:only aid_office|role \S+ may not) .*$`), "您的角色无权进行此操作。"},
	// Text and pattern rules of every field (orders/text.go).
	{regexp.MustCompile(`^is not UTF-8 text$`), "含有无法识别的字符，请重新输入"},
	{regexp.MustCompile(`^must not contain control characters.*$`), "不能含有控制字符（如空字符、制表符、换行）"},
	{regexp.MustCompile(`^contains a replacement character.*$`), "含有乱码（�），可能是文件编码不对，请重新输入"},
	{regexp.MustCompile(`^must not contain line or paragraph separators$`), "不能含有换行或分段符"},
	{regexp.MustCompile(`^must not contain bidirectional control characters$`), "不能含有文字方向控制符"},
	{regexp.MustCompile(`^letters, digits, '-', '_', '.', '/', '#', '\(' or '\)', starting with a letter or digit, no spaces$`), "只能用文字、数字和 - _ . / # ( )，以文字或数字开头，不含空格"},
	{regexp.MustCompile(`^1–32 letters, digits, '\.', '_' or '-' \(ASCII\).*$`), "应为 1–32 位英文字母、数字或 . _ -，以字母或数字开头"},
	{regexp.MustCompile(`^a masked phone number cannot be dialled.*$`), "号码中有 * 等遮盖，快递无法拨打，请填写完整号码"},
	{regexp.MustCompile(`^a placeholder, not a phone number.*$`), "这是占位号码，不是真实电话，请填写快递能拨通的号码"},
	{regexp.MustCompile(`^not a phone number a courier can dial: a mobile number starts 13–19$`), "手机号码应以 13–19 开头"},
	{regexp.MustCompile(`^not a phone number a courier can dial: a mobile number has 11 digits$`), "手机号码应为 11 位"},
	{regexp.MustCompile(`^required: a per_recipient order names every line's recipients.*$`), "按收件人配送的订单，每行都要填写收件人（或改为统一配送）"},
	{regexp.MustCompile(`^at most (\d+) lines$`), "一张订单最多 %s 行"},
	{regexp.MustCompile(`^at most (\d+) recipients in one order \((\d+) given\).*$`), "一张订单最多 %s 个收件人（现有 %s 个），请拆分订单"},
	{regexp.MustCompile(`^is before (\S+), the earliest placed_at taken$`), "下单时间早于 %s，不能录入"},
	{regexp.MustCompile(`^lies in the future.*$`), "下单时间不能晚于现在"},
	// The order form's refusals (orders.Service.Place's field details).
	{regexp.MustCompile(`^required$`), "必填"},
	{regexp.MustCompile(`^at most (\d+) characters.*$`), "最多 %s 个字符"},
	{regexp.MustCompile(`^must be one of .* or auto$`), "请选择一个商城或“自动选择”"},
	{regexp.MustCompile(`^must be union_funds.*$`), "请选择资金来源"},
	{regexp.MustCompile(`^must be bulk or per_recipient.*$`), "请选择配送方式"},
	{regexp.MustCompile(`^not a phone number.*$`), "电话号码不正确（7–15 位数字，可含 +、-、空格和括号）"},
	{regexp.MustCompile(`^at least one line is required$`), "请至少填写一行商品"},
	{regexp.MustCompile(`^unknown SKU.*$`), "目录中没有这个商品"},
	{regexp.MustCompile(`^.* does not list .*$`), "所选商城未上架这个商品"},
	{regexp.MustCompile(`^must be a whole number from 1 to (\d+).*$`), "数量应为 1 到 %s 之间的整数"},
	{regexp.MustCompile(`^must be positive$`), "应为正数"},
	{regexp.MustCompile(`^only per_recipient orders carry recipients$`), "统一配送的订单不填收件人"},
	{regexp.MustCompile(`^quantities add up to (\d+), the line has (\d+)$`), "收件人数量合计 %s，与本行数量 %s 不符"},
	{regexp.MustCompile(`^name, phone and address are required$`), "姓名、电话、地址都要填写"},
	{regexp.MustCompile(`^no connected mall lists every line.*$`), "没有一个商城上架了全部商品：请拆分订单，或指定商城"},
	{regexp.MustCompile(`^.* lists .* yuan, not .*$`), "价格已变动，请核对后重新提交"},
	{regexp.MustCompile(`^unknown branch.*$`), "没有这个单位"},
}

// zhMessage says msg, a domain refusal, in Chinese (as it is when no rule knows it).
func zhMessage(msg string) string {
	for _, r := range zhMessages {
		if m := r.re.FindStringSubmatch(msg); m != nil {
			args := make([]any, len(m)-1)
			for i, g := range m[1:] {
				args[i] = zhWord(g)
			}
			return fmt.Sprintf(r.zh, args...)
		}
	}
	return msg
}

func zhDetail(detail string) string { return zhMessage(detail) }

// zhWord names a few domain words in Chinese where they fill a message.
func zhWord(w string) string {
	switch w {
	case string(review.Dismissed):
		return "已查看，不再处理"
	case string(review.Reread):
		return "重新读取"
	}
	if k, ok := reviewKinds[review.Kind(w)]; ok {
		return k
	}
	return w
}

// eventName is a fulfilment event's type in Chinese (the type itself when unknown).
func eventName(t string) string {
	switch orders.EventType(t) {
	case orders.EventAccepted:
		return "商城已接单"
	case orders.EventShipped:
		return "已发货"
	case orders.EventDelivered:
		return "已签收"
	case orders.EventRefunded:
		return "已退款"
	case orders.EventCancelled:
		return "已取消"
	}
	return t
}

// linkageName is a linkage type in Chinese (利益联结方式; the type itself when unknown).
func linkageName(t string) string {
	switch households.LinkageType(t) {
	case households.LinkProducePurchase:
		return "订单收购"
	case households.LinkShareholding:
		return "入股分红"
	case households.LinkEmployment:
		return "务工就业"
	case households.LinkLandLease:
		return "土地流转"
	}
	return t
}
