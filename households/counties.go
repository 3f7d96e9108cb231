package households

// CountyNames maps GB/T 2260 county-level division codes to their names, for report
// labels. It holds the counties of the poverty-alleviation areas the service has data for
// (Yan'an 延安市 and Yulin 榆林市, Shaanxi); a code not listed is shown as the code itself.
// Read-only.
var CountyNames = map[string]string{
	"610602": "宝塔区", "610603": "安塞区", "610621": "延长县", "610622": "延川县", "610625": "志丹县",
	"610626": "吴起县", "610627": "甘泉县", "610628": "富县", "610629": "洛川县", "610630": "宜川县",
	"610631": "黄龙县", "610632": "黄陵县", "610681": "子长市",
	"610802": "榆阳区", "610803": "横山区", "610822": "府谷县", "610824": "靖边县", "610825": "定边县",
	"610826": "绥德县", "610827": "米脂县", "610828": "佳县", "610829": "吴堡县", "610830": "清涧县",
	"610831": "子洲县", "610881": "神木市",
}
